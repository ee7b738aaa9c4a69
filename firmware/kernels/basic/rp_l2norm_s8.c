/* rp_l2norm_s8: see include/rp_kernels.h. */
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

/* floor(sqrt(v)), exact, digit by digit (numerics §3). */
static uint32_t isqrt(uint32_t v) {
    uint32_t r = 0, bit = 1u << 30;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
}

rp_status rp_l2norm_s8(const rp_quant_params *q, const rp_dims *dims, const int8_t *in, int8_t *out) {
    if (dims->h < 1 || dims->w < 1 || dims->c < 1 || dims->c > (1 << 9)) return RP_ERR_ARG; /* S*256 < 2^32 */
    const int64_t pixels = (int64_t)dims->h * dims->w;
    const int32_t c_n = dims->c;
    for (int64_t px = 0; px < pixels; px++, in += c_n, out += c_n) {
        uint32_t s = 0;
        for (int32_t c = 0; c < c_n; c++) s += (uint32_t)(in[c] * in[c]);
        const uint32_t n = isqrt(s << 8);
        const int32_t inv = n ? (int32_t)((1u << 24) / n) : 0;
        for (int32_t c = 0; c < c_n; c++)
            out[c] = (int8_t)rp_clamp(rp_requantize(in[c] * inv, q->mult[c], q->shift[c]), -128, 127);
    }
    return RP_OK;
}
