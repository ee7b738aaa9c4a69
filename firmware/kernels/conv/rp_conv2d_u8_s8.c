/* rp_conv2d_u8_s8: see include/rp_kernels.h. */
#include "rp_kernels.h"

rp_status rp_conv2d_u8_s8(const rp_conv_params *p, const rp_quant_params *q,
                          const rp_dims *in_dims, const uint8_t *in,
                          const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                          const rp_dims *out_dims, int8_t *out) {
    return rp_conv2d_u8_s8_rows(p, q, in_dims, in, filter_dims, filter, bias, out_dims, out, 0, out_dims->h);
}
