/* rp_depthwise3x3_s8: see include/rp_kernels.h.
 *
 * A loop over the output rows: each is one rp_nn_depthwise3x3_row_s8 (the depthwise implementation, with its DSP
 * path) on the three input rows its window covers, NULL for those outside the tensor (zero padding). */
#include "internal/rp_nn_conv.h"
#include "rp_mbconv.h"

rp_status rp_depthwise3x3_s8(const rp_conv_params *p, const rp_quant_params *q,
                             const rp_dims *in_dims, const int8_t *in,
                             const int8_t *filter, const int32_t *bias,
                             const rp_dims *out_dims, int8_t *out) {
    const rp_dims filter_dims = {3, 3, in_dims->c};
    if (p->kernel != 3 || p->in_offset != 0 || out_dims->c != in_dims->c ||
        !rp_nn_conv_dims_ok(p, in_dims, &filter_dims, out_dims))
        return RP_ERR_ARG;
    const rp_layer_weights dw = {filter, bias, *q, p->act_min, p->act_max};
    const int32_t h = in_dims->h, w = in_dims->w, c = in_dims->c, s = p->stride, wo = out_dims->w;
    for (int32_t oy = 0; oy < out_dims->h; oy++) {
        const int8_t *rows[3];
        for (int32_t k = 0; k < 3; k++) {
            const int32_t y = oy * s + k - 1;
            rows[k] = y >= 0 && y < h ? in + (int64_t)y * w * c : 0;
        }
        rp_nn_depthwise3x3_row_s8(&dw, rows, w, c, s, wo, out + (int64_t)oy * wo * c, 0);
    }
    return RP_OK;
}
