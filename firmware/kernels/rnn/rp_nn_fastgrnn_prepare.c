/* rp_nn_fastgrnn_prepare: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

/* k = 2^(s-1) + index 2^(s+6) + bias 2^s for 1 <= s <= 24, or 0 when |k| >= 2^30 (k = 0 is never a fold: it is
 * odd times 2^(s-1)). index: the exact nonlinearities, whose table index adds 64 (internal/rp_nn_rnn.h). */
static int32_t rp_nn_grnn_fold(int32_t bias, int32_t s, int32_t index) {
    const int64_t k = ((int64_t)1 << (s - 1)) + (int64_t)(bias + (index ? 64 : 0)) * ((int64_t)1 << s);
    return k <= -(1 << 30) || k >= (1 << 30) ? 0 : (int32_t)k;
}

#if RP_USE_DSP
/* Whether the one-index gates run p: each bg - bh a multiple of 128, within the tanh table's padding. */
static int rp_nn_grnn_one_index(const rp_fastgrnn_params *p) {
    for (int32_t i = 0; i < p->n_hidden; i++) {
        const int32_t d = p->bg[i] - p->bh[i];
        if (d & 127 || d < -128 * RP_NN_TANH_PAD || d > 128 * RP_NN_TANH_PAD) return 0;
    }
    return 1;
}
#endif /* RP_USE_DSP */

int32_t rp_nn_fastgrnn_prepare(const rp_fastgrnn_params *p, int32_t input, void *mem, int32_t mem_bytes,
                               rp_nn_grnn *g, int32_t laid) {
    const int32_t n_h = p->n_hidden, n_in = p->n_in, n_xp = rp_nn_grnn_input_pairs(p->n_in), n_hp = n_h / 2;
    const int32_t size = rp_nn_fastgrnn_prepared_size(p);
    if (n_h < 4 || n_h > RP_MAX_HIDDEN || (n_h & 3) || n_in < 1 || n_in > RP_MAX_HIDDEN || p->shift > -2 ||
        p->shift < -31 || size > mem_bytes)
        return 0;
    if (input == RP_NN_GRNN_IN_S8 ? (p->x_shift < 0 || p->x_shift > 8) : (p->x_shift != 0 || (n_in & 3)))
        return 0;
    const int32_t s = -1 - p->shift, index = !p->hard; /* exact: gate shift s + 7 <= 31 */
    if (index && s > 24) return 0;
    for (int32_t i = 0; i < n_h; i++) /* kg, kh (internal/rp_nn_rnn.h): |k| < 2^30 */
        if (rp_nn_grnn_fold(p->bg[i], s, index) == 0 || rp_nn_grnn_fold(p->bh[i], s, index) == 0) return 0;
    int16_t *w = (int16_t *)mem;
    int32_t *b = (int32_t *)(void *)(w + 2 * n_h * (n_xp + n_hp));
    const int32_t n_v = n_in + n_h;
    for (int32_t r = 0; r < n_h && !laid; r++) {
        const int16_t *row = p->w + r * n_v;
        int16_t *blk = w + (r >> 2) * 8 * (n_xp + n_hp) + 2 * (r & 3);
        for (int32_t q = 0; q < n_xp; q++)
            for (int32_t k = 0; k < 2; k++) {
                const int32_t col = input == RP_NN_GRNN_IN_S8 ? 4 * (q >> 1) + (q & 1) + 2 * k : 2 * q + k;
                blk[8 * q + k] = col < n_in ? row[col] : 0;
            }
        for (int32_t q = 0; q < n_hp; q++)
            for (int32_t k = 0; k < 2; k++) blk[8 * (n_xp + q) + k] = row[n_in + 2 * q + k];
        b[2 * r] = rp_nn_grnn_fold(p->bg[r], s, index);
        b[2 * r + 1] = rp_nn_grnn_fold(p->bh[r], s, index);
    }
    g->w = w;
    g->b = b;
    g->sig = rp_nn_sigmoid_table();
    g->tanh = rp_nn_tanh_table();
    g->n_hidden = n_h;
    g->n_xp = n_xp;
    g->x_shift = p->x_shift;
    g->mult = p->mult;
    g->s = index ? s + 7 : s;
    g->zeta = p->zeta;
    g->nu = p->nu;
    g->mode = (p->hard ? RP_NN_GRNN_HARD : 0) | (p->zeta == 16384 && p->nu == 0 ? RP_NN_GRNN_CONVEX : 0);
    const uint32_t gate[5] = {(uint32_t)(uintptr_t)g->sig, (uint32_t)g->mult, (uint32_t)g->s,
                              (uint32_t)(uintptr_t)g->tanh, 8192u};
    for (int32_t i = 0; i < 5; i++) g->gate[i] = gate[i];
    g->seq = 0;
#if RP_USE_DSP
    const rp_fastgrnn_gates *own = p->gates;
    if (own && own->seq_s8 && own->seq_proj && own->shift == g->s && index &&
        (!own->one_index || rp_nn_grnn_one_index(p)))
        g->seq = own;
#endif /* RP_USE_DSP */
    g->frame = 0;
    return size;
}
