/* rp_nn_fastgrnn_prepare: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

/* k = 2^(s-1) + bias 2^s for 1 <= s <= 30, or 0 when |k| >= 2^30 (k = 0 is never a fold: it is odd times 2^(s-1)). */
static int32_t rp_nn_grnn_fold(int32_t bias, int32_t s) {
    const int64_t k = ((int64_t)1 << (s - 1)) + (int64_t)bias * ((int64_t)1 << s);
    return k <= -(1 << 30) || k >= (1 << 30) ? 0 : (int32_t)k;
}

int32_t rp_nn_fastgrnn_prepare(const rp_fastgrnn_params *p, int32_t input, void *mem, int32_t mem_bytes,
                               rp_nn_grnn *g) {
    const int32_t n_h = p->n_hidden, n_in = p->n_in, n_xp = rp_nn_grnn_input_pairs(p->n_in), n_hp = n_h / 2;
    const int32_t size = rp_nn_fastgrnn_prepared_size(p);
    if (n_h < 4 || n_h > RP_MAX_HIDDEN || (n_h & 3) || n_in < 1 || n_in > RP_MAX_HIDDEN || p->shift > -2 ||
        p->shift < -31 || size > mem_bytes)
        return 0;
    if (input == RP_NN_GRNN_IN_S8 ? (p->x_shift < 0 || p->x_shift > 8) : (p->x_shift != 0 || (n_in & 3)))
        return 0;
    const int32_t s = -1 - p->shift;
    for (int32_t i = 0; i < n_h; i++) /* kg, kh (internal/rp_nn_rnn.h): |k| < 2^30 */
        if (rp_nn_grnn_fold(p->bg[i], s) == 0 || rp_nn_grnn_fold(p->bh[i], s) == 0) return 0;
    int16_t *w = (int16_t *)mem;
    int32_t *b = (int32_t *)(void *)(w + 2 * n_h * (n_xp + n_hp));
    const int32_t n_v = n_in + n_h;
    for (int32_t r = 0; r < n_h; r++) {
        const int16_t *row = p->w + r * n_v;
        int16_t *blk = w + (r >> 2) * 8 * (n_xp + n_hp) + 2 * (r & 3);
        for (int32_t q = 0; q < n_xp; q++)
            for (int32_t k = 0; k < 2; k++) {
                const int32_t col = input == RP_NN_GRNN_IN_S8 ? 4 * (q >> 1) + (q & 1) + 2 * k : 2 * q + k;
                blk[8 * q + k] = col < n_in ? row[col] : 0;
            }
        for (int32_t q = 0; q < n_hp; q++)
            for (int32_t k = 0; k < 2; k++) blk[8 * (n_xp + q) + k] = row[n_in + 2 * q + k];
        b[2 * r] = rp_nn_grnn_fold(p->bg[r], s);
        b[2 * r + 1] = rp_nn_grnn_fold(p->bh[r], s);
    }
    g->w = w;
    g->b = b;
    g->pairs = rp_nn_tanh_pairs();
    g->n_hidden = n_h;
    g->n_xp = n_xp;
    g->x_shift = p->x_shift;
    g->mult = p->mult;
    g->s = s;
    g->zeta = p->zeta;
    g->nu = p->nu;
    g->mode = (p->hard ? RP_NN_GRNN_HARD : 0) | (p->zeta == 16384 && p->nu == 0 ? RP_NN_GRNN_CONVEX : 0);
    const uint32_t gate[8] = {(uint32_t)(uintptr_t)g->pairs, (uint32_t)g->mult, (uint32_t)s + 1, (uint32_t)s,
                              512u << 16, 256u, (1u << 23) + 256u, 8192u};
    for (int32_t i = 0; i < 8; i++) g->gate[i] = gate[i];
    g->frame = 0;
    return size;
}
