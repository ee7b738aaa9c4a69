/* rp_conv2d_s8_s16: see include/rp_kernels.h. */
#include "internal/rp_nn_conv.h"
#include "rp_kernels.h"

rp_status rp_conv2d_s8_s16(const rp_conv_params *p, const rp_quant_params *q,
                           const rp_dims *in_dims, const int8_t *in,
                           const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const rp_dims *out_dims, int16_t *out) {
    if (!rp_nn_conv_dims_ok(p, in_dims, filter_dims, out_dims)) return RP_ERR_ARG;
    rp_nn_conv_s8(p, q, in_dims, in, filter, bias, out_dims, out, 2, 0);
    return RP_OK;
}
