/* rp_nn_fastgrnn_run_proj: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

RP_INLINE void run(const rp_nn_grnn *g, const int32_t n_hidden, const int32_t *const *proj, int32_t steps,
                   int16_t *h_out, const int mode) {
    int16_t hs[2][RP_MAX_HIDDEN] __attribute__((aligned(4)));
    int16_t *h = hs[0], *next = hs[1];
    for (int32_t i = 0; i < n_hidden; i++) h[i] = 0;
    for (int32_t t = 0; t < steps; t++) {
        rp_nn_grnn_step(g, n_hidden, g->n_xp, 0, proj[t], h, next, t == 0, mode);
        int16_t *const old = h;
        h = next, next = old;
    }
    for (int32_t i = 0; i < n_hidden; i++) h_out[i] = h[i];
}

#if RP_USE_DSP
/* The face models' convex cell in assembly, in g's frame (internal/rp_nn_rnn.h). */
RP_INLINE void run16(const rp_nn_grnn *g, const int32_t *const *proj, int32_t steps, int16_t *h, const int hard) {
    int32_t *f = g->frame, *out = (int32_t *)(void *)h;
#pragma GCC unroll 8
    for (int32_t i = 0; i < 8; i++) f[RP_NN_GRNN16_H + i] = 0;
    rp_nn_grnn16_mac_none(g->w, 0, f, proj[0]);
    rp_nn_grnn16_update(g, f, hard);
    for (int32_t t = 1; t < steps; t++) {
        rp_nn_grnn16_mac_proj(g->w, (const int16_t *)(void *)(f + RP_NN_GRNN16_H), f, proj[t]);
        rp_nn_grnn16_update(g, f, hard);
    }
#pragma GCC unroll 8
    for (int32_t i = 0; i < 8; i++) out[i] = f[RP_NN_GRNN16_H + i];
}
/* The whole sequence in the cell's compiled assembly (RP_NN_GRNN16_GATES). */
static __attribute__((noinline)) void run_seq(const rp_nn_grnn *g, const int32_t *const *proj, int32_t steps,
                                              int16_t *h) {
    const int32_t args[4] = {(int32_t)(intptr_t)(proj + steps), (int32_t)(intptr_t)g->w, (int32_t)(intptr_t)h, 0};
    g->seq->seq_proj(g->frame, g->gate, proj, args);
}
static __attribute__((noinline)) void run_asm(const rp_nn_grnn *g, const int32_t *const *proj, int32_t steps,
                                              int16_t *h) {
    if (g->mode & RP_NN_GRNN_HARD)
        run16(g, proj, steps, h, 1);
    else
        run16(g, proj, steps, h, 0);
}
#endif /* RP_USE_DSP */

/* The C path, not inlined: the dispatcher below stays a few instructions for the assembly's calls. */
static RP_GENERIC_PATH void run_c(const rp_nn_grnn *g, const int32_t *const *proj, int32_t steps, int16_t *h) {
#if !RP_USE_DSP /* the DSP build runs the face models' default cell in assembly: no flash for these there */
    if (g->n_hidden == 16) { /* the face models: one loop per mode, unrolled */
        switch (g->mode) {
        case 0: run(g, 16, proj, steps, h, 0); return;
        case RP_NN_GRNN_HARD: run(g, 16, proj, steps, h, RP_NN_GRNN_HARD); return;
        case RP_NN_GRNN_CONVEX: run(g, 16, proj, steps, h, RP_NN_GRNN_CONVEX); return;
        default: run(g, 16, proj, steps, h, RP_NN_GRNN_HARD | RP_NN_GRNN_CONVEX); return;
        }
    }
#endif /* !RP_USE_DSP */
    run(g, g->n_hidden, proj, steps, h, g->mode);
}

void rp_nn_fastgrnn_run_proj(const rp_nn_grnn *g, const int32_t *const *proj, int32_t steps, int16_t *h) {
#if RP_USE_DSP
    if (rp_nn_grnn16_runs_proj(g)) {
        (g->seq ? run_seq : run_asm)(g, proj, steps, h);
        return;
    }
#endif /* RP_USE_DSP */
    run_c(g, proj, steps, h);
}
