/* rp_add_s8: see include/rp_kernels.h. */
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

rp_status rp_add_s8(const rp_add_params *p, const rp_dims *dims, const int8_t *a, const int8_t *b, int8_t *out) {
    if (dims->h < 1 || dims->w < 1 || dims->c < 1) return RP_ERR_ARG;
    const int64_t n = (int64_t)dims->h * dims->w * dims->c;
    for (int64_t i = 0; i < n; i++) {
        const int32_t acc = (int32_t)a[i] * p->ka + (int32_t)b[i] * p->kb; /* |acc| <= 2^22 */
        out[i] = (int8_t)rp_clamp(rp_requantize(acc, p->mult, p->shift), p->act_min, p->act_max);
    }
    return RP_OK;
}
