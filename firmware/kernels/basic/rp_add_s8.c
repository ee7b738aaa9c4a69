/* rp_add_s8: see include/rp_kernels.h. */
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

rp_status rp_add_s8(const rp_add_params *p, const rp_dims *dims, const int8_t *a, const int8_t *b, int8_t *out) {
    if (dims->h < 1 || dims->w < 1 || dims->c < 1) return RP_ERR_ARG;
    const int64_t n = (int64_t)dims->h * dims->w * dims->c;
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
