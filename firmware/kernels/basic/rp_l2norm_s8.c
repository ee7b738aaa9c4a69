/* rp_l2norm_s8: see include/rp_kernels.h. */
#include "internal/rp_dsp.h"
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

/* floor(sqrt(v)) for v <= 2^31, exact (numerics §3). With the FPU (every board's build: -mfpu=fpv4-sp-d16): the
 * single-precision root of v is within 0.005 of sqrt(v) (two roundings of 2^-24 relative, sqrt(v) < 46341), so
 * its integer part is floor(sqrt(v)) or one off, which one comparison each way corrects (no product wraps).
 * Otherwise digit by digit. */
static uint32_t isqrt(uint32_t v) {
#if defined(__ARM_FP) && (__ARM_FP & 4)
    float f = (float)v;
    __asm__("vsqrt.f32 %0, %0" : "+t"(f));
    const uint32_t r = (uint32_t)f;
    if (r * r > v) return r - 1;
    if ((r + 1) * (r + 1) <= v) return r + 1;
    return r;
#else
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
#endif
}

/* S = sum of x_c^2 over one pixel. */
static uint32_t sum_of_squares(const int8_t *in, int32_t c_n) {
    uint32_t s = 0;
    int32_t c = 0;
#if RP_USE_DSP
    for (; c + 8 <= c_n; c += 8) { /* [x0, x2] and [x1, x3] of each word: two SMLADs */
        const uint32_t v = rp_read_s8x4(in + c), e = rp_sxtb16_even(v), o = rp_sxtb16_odd(v);
        const uint32_t v2 = rp_read_s8x4(in + c + 4), e2 = rp_sxtb16_even(v2), o2 = rp_sxtb16_odd(v2);
        s = (uint32_t)rp_smlad(e, e, (int32_t)s);
        s = (uint32_t)rp_smlad(o, o, (int32_t)s);
        s = (uint32_t)rp_smlad(e2, e2, (int32_t)s);
        s = (uint32_t)rp_smlad(o2, o2, (int32_t)s);
    }
#endif /* RP_USE_DSP */
    for (; c < c_n; c++) s += (uint32_t)(in[c] * in[c]);
    return s;
}

rp_status rp_l2norm_s8(const rp_quant_params *q, const rp_dims *dims, const int8_t *in, int8_t *out) {
    if (dims->h < 1 || dims->w < 1 || dims->c < 1 || dims->c > (1 << 9)) return RP_ERR_ARG; /* S*256 < 2^32 */
    const int64_t pixels = (int64_t)dims->h * dims->w;
    const int32_t c_n = dims->c, *mult = q->mult, *shift = q->shift;
    /* One shift <= -2 for every channel (the face models'): the 32-bit requantisation with its s and rounding
     * constant hoisted; otherwise rp_requantize_clamp per value, which takes any shift. |x * inv| <= 128 * 2^20. */
    int same = shift[0] <= -2;
    for (int32_t c = 1; c < c_n; c++) same &= shift[c] == shift[0];
    const int32_t s = -1 - shift[0], rnd = same ? 1 << (s - 1) : 0, fours = same ? c_n & ~3 : 0;
    for (int64_t px = 0; px < pixels; px++, in += c_n, out += c_n) {
        const uint32_t n = isqrt(sum_of_squares(in, c_n) << 8);
        const int32_t inv = n ? (int32_t)((1u << 24) / n) : 0;
        int32_t c = 0;
        for (; c < fours; c += 4) { /* the same loop as below, four values per pass */
            out[c] = (int8_t)RP_SSAT(rp_requantize_fast(in[c] * inv, mult[c], rnd, s), 8);
            out[c + 1] = (int8_t)RP_SSAT(rp_requantize_fast(in[c + 1] * inv, mult[c + 1], rnd, s), 8);
            out[c + 2] = (int8_t)RP_SSAT(rp_requantize_fast(in[c + 2] * inv, mult[c + 2], rnd, s), 8);
            out[c + 3] = (int8_t)RP_SSAT(rp_requantize_fast(in[c + 3] * inv, mult[c + 3], rnd, s), 8);
        }
        for (; c < c_n; c++)
            out[c] = (int8_t)(same ? RP_SSAT(rp_requantize_fast(in[c] * inv, mult[c], rnd, s), 8)
                                   : rp_requantize_clamp(in[c] * inv, mult[c], shift[c], -128, 127));
    }
    return RP_OK;
}
