/* rp_nn_fastgrnn_step: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

/* pre + b, an int64 (any requantisation), clamped to [-2^20, 2^20]: every nonlinearity is flat beyond +-2^17. */
static int32_t gate_input(int64_t pre, int32_t b) {
    const int64_t v = pre + b;
    return v < -(1 << 20) ? -(1 << 20) : (v > (1 << 20) ? 1 << 20 : (int32_t)v);
}

void rp_nn_fastgrnn_step(const rp_fastgrnn_params *p, const int16_t *v, int16_t *h) {
    const int32_t n_v = p->n_in + p->n_hidden, hard = p->hard;
    const int16_t *sig = rp_nn_sigmoid_table(), *th = rp_nn_tanh_table();
    int16_t next[RP_MAX_HIDDEN];
    for (int32_t i = 0; i < p->n_hidden; i++) {
        const int16_t *w = p->w + i * n_v;
        int32_t acc = 0, j = 0;
#if RP_USE_DSP
        for (; j + 1 < n_v; j += 2) acc = rp_smlad(rp_read_q15x2(w + j), rp_read_q15x2(v + j), acc);
#endif /* RP_USE_DSP */
        for (; j < n_v; j++) acc += (int32_t)w[j] * v[j];
        const int64_t pre = rp_requantize(acc, p->mult, p->shift);
        const int32_t vg = gate_input(pre, p->bg[i]), vh = gate_input(pre, p->bh[i]);
        const int32_t z = hard ? rp_nn_hard_sigmoid_i32(vg) : sig[rp_nn_q14_index(vg)];
        const int32_t c = hard ? rp_nn_hard_tanh_i32(vh) : th[rp_nn_q14_index(vh)];
        const int32_t coef = ((p->zeta * (16384 - z)) >> 14) + p->nu;
        /* |z h + coef c| <= 2^30 (numerics §4.2) */
        next[i] = (int16_t)rp_clamp((z * h[i] + coef * c + 8192) >> 14, -32768, 32767);
    }
    for (int32_t i = 0; i < p->n_hidden; i++) h[i] = next[i]; /* every h'_i comes from the old h */
}
