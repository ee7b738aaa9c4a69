/* rp_nn_fastgrnn_run_s8: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

/* One pixel as the int16 input vector x << x_shift, in the order of W' (internal/rp_nn_rnn.h), zero past n_in. */
RP_INLINE void pack(const int8_t *x, int32_t n_in, int32_t n_xp, int32_t x_shift, int16_t *v) {
#if RP_USE_DSP
    if (x_shift == 8 && (n_in & 3) == 0) { /* lanes (b0, b2) << 8 and (b1, b3) << 8 of each word of 4 bytes */
        for (int32_t j = 0; j < n_in; j += 4) {
            const uint32_t w = rp_read_s8x4(x + j);
            rp_write_q15x2_a4(v + j, (w << 8) & 0xFF00FF00u);
            rp_write_q15x2_a4(v + j + 2, w & 0xFF00FF00u);
        }
        return;
    }
#endif /* RP_USE_DSP */
    for (int32_t q = 0; q < n_xp; q++) { /* one word per pair: the MACs then take its halves as they are */
        const int32_t col = 4 * (q >> 1) + (q & 1);
        const uint32_t lo = (uint16_t)(col < n_in ? x[col] * (1 << x_shift) : 0);
        const uint32_t hi = (uint16_t)(col + 2 < n_in ? x[col + 2] * (1 << x_shift) : 0);
        const uint32_t pair = lo | hi << 16;
        __builtin_memcpy(v + 2 * q, &pair, 4); /* lo at the lower address: little-endian, as every target here */
    }
}

RP_INLINE void run(const rp_nn_grnn *g, const int32_t n_hidden, const int32_t n_in, const int32_t x_shift,
                   const int8_t *x, int32_t steps, int32_t pitch, int16_t *h_out, const int mode) {
    const int32_t n_xp = rp_nn_grnn_input_pairs(n_in);
    int16_t v[2 * RP_MAX_HIDDEN] __attribute__((aligned(4)));
    int16_t hs[2][RP_MAX_HIDDEN] __attribute__((aligned(4)));
    int16_t *h = hs[0], *next = hs[1];
    for (int32_t i = 0; i < n_hidden; i++) h[i] = 0;
    for (int32_t t = 0; t < steps; t++, x += pitch) {
        pack(x, n_in, n_xp, x_shift, v);
        rp_nn_grnn_step(g, n_hidden, n_xp, v, 0, h, next, t == 0, mode);
        int16_t *const old = h;
        h = next, next = old;
    }
    for (int32_t i = 0; i < n_hidden; i++) h_out[i] = h[i];
}

#if RP_USE_DSP
/* The face models' convex cell in assembly, in g's frame (internal/rp_nn_rnn.h): the packed pixel, then h. */
RP_INLINE void run16(const rp_nn_grnn *g, const int8_t *x, int32_t steps, int32_t pitch, int16_t *h_out,
                     const int hard) {
    int32_t *f = g->frame;
    int16_t *v = (int16_t *)(void *)(f + RP_NN_GRNN16_X);
#pragma GCC unroll 8
    for (int32_t i = 0; i < 8; i++) f[RP_NN_GRNN16_H + i] = 0;
    pack(x, 4, 2, 8, v);
    rp_nn_grnn16_mac_s8_first(g->w, v, f);
    rp_nn_grnn16_update(g, f, hard);
    for (int32_t t = 1; t < steps; t++) {
        x += pitch;
        pack(x, 4, 2, 8, v);
        rp_nn_grnn16_mac_s8(g->w, v, f);
        rp_nn_grnn16_update(g, f, hard);
    }
    int32_t *out = (int32_t *)(void *)h_out;
#pragma GCC unroll 8
    for (int32_t i = 0; i < 8; i++) out[i] = f[RP_NN_GRNN16_H + i];
}
/* The whole sequence in the cell's compiled assembly (RP_NN_GRNN16_GATES). */
static __attribute__((noinline)) void run_seq(const rp_nn_grnn *g, const int8_t *x, int32_t steps, int32_t pitch,
                                              int16_t *h_out) {
    const int32_t args[5] = {pitch, (int32_t)(intptr_t)(x + steps * pitch), (int32_t)(intptr_t)g->w,
                             (int32_t)(intptr_t)h_out, 0};
    g->seq->seq_s8(g->frame, g->gate, x, args);
}
static __attribute__((noinline)) void run_asm(const rp_nn_grnn *g, const int8_t *x, int32_t steps, int32_t pitch,
                                              int16_t *h_out) {
    if (g->mode & RP_NN_GRNN_HARD)
        run16(g, x, steps, pitch, h_out, 1);
    else
        run16(g, x, steps, pitch, h_out, 0);
}
#endif /* RP_USE_DSP */

/* The C path, not inlined: the dispatcher below stays a few instructions for the assembly's calls. */
static RP_GENERIC_PATH void run_c(const rp_nn_grnn *g, const int8_t *x, int32_t n_in, int32_t steps,
                                  int32_t pitch, int16_t *h) {
#if !RP_USE_DSP /* the DSP build runs the face models' default cell in assembly: no flash for these there */
    if (g->n_hidden == 16 && n_in == 4 && g->x_shift == 8) { /* the face models: one loop per mode, unrolled */
        switch (g->mode) {
        case 0: run(g, 16, 4, 8, x, steps, pitch, h, 0); return;
        case RP_NN_GRNN_HARD: run(g, 16, 4, 8, x, steps, pitch, h, RP_NN_GRNN_HARD); return;
        case RP_NN_GRNN_CONVEX: run(g, 16, 4, 8, x, steps, pitch, h, RP_NN_GRNN_CONVEX); return;
        default: run(g, 16, 4, 8, x, steps, pitch, h, RP_NN_GRNN_HARD | RP_NN_GRNN_CONVEX); return;
        }
    }
#endif /* !RP_USE_DSP */
    run(g, g->n_hidden, n_in, g->x_shift, x, steps, pitch, h, g->mode);
}

void rp_nn_fastgrnn_run_s8(const rp_nn_grnn *g, const int8_t *x, int32_t n_in, int32_t steps, int32_t pitch,
                           int16_t *h) {
#if RP_USE_DSP
    if (rp_nn_grnn16_runs_s8(g, n_in)) {
        (g->seq ? run_seq : run_asm)(g, x, steps, pitch, h);
        return;
    }
#endif /* RP_USE_DSP */
    run_c(g, x, n_in, steps, pitch, h);
}
