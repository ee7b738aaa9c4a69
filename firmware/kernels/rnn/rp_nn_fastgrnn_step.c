/* rp_nn_fastgrnn_step: see include/rp_kernels.h. */
#include "rp_config.h"
#include "rp_kernels.h"
#include "rp_requantize.h"

static int32_t hard_sigmoid(int64_t v) {
    const int64_t s = (v + 16384) >> 1;
    return s < 0 ? 0 : (s > 16384 ? 16384 : (int32_t)s);
}

static int32_t hard_tanh(int64_t v) { return v < -16384 ? -16384 : (v > 16384 ? 16384 : (int32_t)v); }

void rp_nn_fastgrnn_step(const rp_fastgrnn_params *p, const int16_t *v, int16_t *h) {
    const int32_t n_v = p->n_in + p->n_hidden;
    int16_t next[RP_MAX_HIDDEN];
    for (int32_t i = 0; i < p->n_hidden; i++) {
        const int16_t *w = p->w + i * n_v;
        int32_t acc = 0, j = 0;
#if RP_USE_DSP
        for (; j + 1 < n_v; j += 2) acc = __smlad(rp_read_q15x2(w + j), rp_read_q15x2(v + j), acc);
#endif /* RP_USE_DSP */
        for (; j < n_v; j++) acc += (int32_t)w[j] * v[j];
        const int64_t pre = rp_requantize(acc, p->mult, p->shift);
        const int32_t z = p->hard ? hard_sigmoid(pre + p->bg[i]) : rp_sigmoid_q14(pre + p->bg[i]);
        const int32_t c = p->hard ? hard_tanh(pre + p->bh[i]) : rp_tanh_q14(pre + p->bh[i]);
        const int32_t coef = ((p->zeta * (16384 - z)) >> 14) + p->nu;
        next[i] = (int16_t)rp_clamp((z * h[i] + coef * c + 8192) >> 14, -32768, 32767); /* |.| <= 2^30 (numerics §4.2) */
    }
    for (int32_t i = 0; i < p->n_hidden; i++) h[i] = next[i]; /* every h'_i comes from the old h */
}
