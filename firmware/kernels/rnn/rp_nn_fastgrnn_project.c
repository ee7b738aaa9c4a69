/* rp_nn_fastgrnn_project: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

RP_INLINE void project(const rp_nn_grnn *g, const int32_t n_hidden, const int32_t n_xp, const int16_t *x,
                       int32_t *proj) {
    const int16_t *w = g->w;
    for (int32_t i = 0; i < n_hidden; i += 4, w += 8 * (n_xp + n_hidden / 2)) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        rp_nn_grnn_mac4(w, x, n_xp, 1, &a0, &a1, &a2, &a3);
        proj[i] = a0, proj[i + 1] = a1, proj[i + 2] = a2, proj[i + 3] = a3;
    }
}

void rp_nn_fastgrnn_project(const rp_nn_grnn *g, const int16_t *x, int32_t *proj) {
    if (g->n_hidden == 16 && g->n_xp == 8)
#if RP_USE_DSP
        rp_nn_grnn16_mac_project(g->w, x, proj); /* the face models' RNN2, in assembly */
#else
        project(g, 16, 8, x, proj); /* the face models' RNN2, unrolled */
#endif /* RP_USE_DSP */
    else
        project(g, g->n_hidden, g->n_xp, x, proj);
}
