/* rp_add_s8: see include/rp_kernels.h. */
#include "internal/rp_dsp.h"
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

rp_status rp_add_s8(const rp_add_params *p, const rp_dims *dims, const int8_t *a, const int8_t *b, int8_t *out) {
    if (dims->h < 1 || dims->w < 1 || dims->c < 1) return RP_ERR_ARG;
    const int64_t n = (int64_t)dims->h * dims->w * dims->c;
#if RP_USE_DSP
    if (p->shift <= -2 && p->act_min == -128 && p->act_max == 127 && (n & 3) == 0 && p->ka == (int16_t)p->ka &&
        p->kb == (int16_t)p->kb) {
        /* four at a time: each a.ka + b.kb one SMUAD of the lane pair [a, b] with [ka, kb] (int16: Q14, <= 2^14) */
        const uint32_t k = (uint32_t)(uint16_t)p->ka | (uint32_t)p->kb << 16;
        const int32_t mult = p->mult, s = -1 - p->shift, rnd = 1 << (s - 1);
        for (int64_t i = 0; i < n; i += 4) { /* a word read before its word is written: out may be a */
            const uint32_t wa = rp_read_s8x4(a + i), wb = rp_read_s8x4(b + i);
            const uint32_t ae = rp_sxtb16_even(wa), ao = rp_sxtb16_odd(wa), be = rp_sxtb16_even(wb),
                           bo = rp_sxtb16_odd(wb);
            out[i] = (int8_t)RP_SSAT(rp_smmla(rp_smuad(rp_pkhbt(ae, be), k), mult, rnd) >> s, 8);
            out[i + 1] = (int8_t)RP_SSAT(rp_smmla(rp_smuad(rp_pkhbt(ao, bo), k), mult, rnd) >> s, 8);
            out[i + 2] = (int8_t)RP_SSAT(rp_smmla(rp_smuad(rp_pkhtb(ae, be), k), mult, rnd) >> s, 8);
            out[i + 3] = (int8_t)RP_SSAT(rp_smmla(rp_smuad(rp_pkhtb(ao, bo), k), mult, rnd) >> s, 8);
        }
        return RP_OK;
    }
#endif /* RP_USE_DSP */
    if (p->shift <= -2) { /* rp_requantize_fast (internal/rp_requantize.h): the MBConv residuals have it */
        const int32_t ka = p->ka, kb = p->kb, mult = p->mult, s = -1 - p->shift, rnd = 1 << (s - 1);
        const int32_t lo = p->act_min, hi = p->act_max;
        for (int64_t i = 0; i < n; i++) {
            const int32_t v = rp_requantize_fast((int32_t)a[i] * ka + (int32_t)b[i] * kb, mult, rnd, s);
            out[i] = (int8_t)(v < lo ? lo : (v > hi ? hi : v));
        }
        return RP_OK;
    }
    for (int64_t i = 0; i < n; i++) {
        const int32_t acc = (int32_t)a[i] * p->ka + (int32_t)b[i] * p->kb; /* |acc| <= 2^22 */
        out[i] = (int8_t)rp_clamp(rp_requantize(acc, p->mult, p->shift), p->act_min, p->act_max);
    }
    return RP_OK;
}
