/* rp_depthwise3x3_s8: see include/rp_kernels.h. */
#include "rp_kernels.h"
#include "rp_requantize.h"

rp_status rp_depthwise3x3_s8(const rp_conv_params *p, const rp_quant_params *q,
                             const rp_dims *in_dims, const int8_t *in,
                             const int8_t *filter, const int32_t *bias,
                             const rp_dims *out_dims, int8_t *out) {
    const rp_dims filter_dims = {3, 3, in_dims->c};
    if (p->kernel != 3 || p->in_offset != 0 || out_dims->c != in_dims->c ||
        !rp_nn_conv_dims_ok(p, in_dims, &filter_dims, out_dims))
        return RP_ERR_ARG;
    const int32_t c_n = in_dims->c, s = p->stride;
    for (int32_t oy = 0; oy < out_dims->h; oy++)
        for (int32_t ox = 0; ox < out_dims->w; ox++)
            for (int32_t c = 0; c < c_n; c++) {
                int32_t acc = bias[c];
                for (int32_t ky = 0; ky < 3; ky++) {
                    const int32_t y = oy * s + ky - 1;
                    if (y < 0 || y >= in_dims->h) continue;
                    for (int32_t kx = 0; kx < 3; kx++) {
                        const int32_t x = ox * s + kx - 1;
                        if (x < 0 || x >= in_dims->w) continue;
                        acc += (int32_t)in[((int64_t)y * in_dims->w + x) * c_n + c] * filter[(ky * 3 + kx) * c_n + c];
                    }
                }
                *out++ = (int8_t)rp_clamp(rp_requantize(acc, q->mult[c], q->shift[c]), p->act_min, p->act_max);
            }
    return RP_OK;
}
