/* rp_conv2d_s8: see include/rp_kernels.h. */
#include "internal/rp_nn_conv.h"
#include "rp_kernels.h"

rp_status rp_conv2d_s8(const rp_conv_params *p, const rp_quant_params *q,
                       const rp_dims *in_dims, const int8_t *in,
                       const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const rp_dims *out_dims, int8_t *out) {
    if (!rp_nn_conv_dims_ok(p, in_dims, filter_dims, out_dims)) return RP_ERR_ARG;
    if (p->kernel == 1 && p->stride == 1 && p->in_offset == 0) { /* the MBConv expand and project layers */
        rp_nn_pointwise_s8(q, in, in_dims->h * in_dims->w, in_dims->c, filter, bias, out_dims->c, p->act_min,
                           p->act_max, out);
        return RP_OK;
    }
    rp_nn_conv_s8(p, q, in_dims, in, filter, bias, out_dims, out, 1, 0);
    return RP_OK;
}
