/* rp_conv2d_s8_s16: see include/rp_kernels.h. */
#include "rp_kernels.h"
#include "rp_requantize.h"

rp_status rp_conv2d_s8_s16(const rp_conv_params *p, const rp_quant_params *q,
                           const rp_dims *in_dims, const int8_t *in,
                           const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const rp_dims *out_dims, int16_t *out) {
    if (!rp_nn_conv_dims_ok(p, in_dims, filter_dims, out_dims)) return RP_ERR_ARG;
    const int32_t cout = out_dims->c, fsize = p->kernel * p->kernel * in_dims->c;
    for (int32_t oy = 0; oy < out_dims->h; oy++)
        for (int32_t ox = 0; ox < out_dims->w; ox++)
            for (int32_t o = 0; o < cout; o++) {
                const int32_t acc = bias[o] + rp_nn_conv_acc_s8(p, in_dims, in, filter + o * fsize, oy, ox);
                *out++ = (int16_t)rp_clamp(rp_requantize(acc, q->mult[o], q->shift[o]), p->act_min, p->act_max);
            }
    return RP_OK;
}
