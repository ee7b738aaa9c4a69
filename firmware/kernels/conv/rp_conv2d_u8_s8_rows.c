/* rp_conv2d_u8_s8_rows: see include/rp_kernels.h. */
#include "internal/rp_nn_conv.h"
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

rp_status rp_conv2d_u8_s8_rows(const rp_conv_params *p, const rp_quant_params *q,
                               const rp_dims *in_dims, const uint8_t *in,
                               const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                               const rp_dims *out_dims, int8_t *out, int32_t first, int32_t end) {
    if (!rp_nn_conv_dims_ok(p, in_dims, filter_dims, out_dims) || first < 0 || first >= end || end > out_dims->h)
        return RP_ERR_ARG;
    const int32_t k = p->kernel, s = p->stride, pad = k / 2, cin = in_dims->c, cout = out_dims->c;
    if (k == 3 && s == 2 && cin == 1 && cout <= RP_NN_STEM_MAX_OUT) { /* the face models' stem */
        rp_nn_conv3x3s2_c1_u8_s8(p, q, in_dims, in, filter, bias, out_dims, out, first, end);
        return RP_OK;
    }
    out += (int64_t)first * out_dims->w * cout;
    for (int32_t oy = first; oy < end; oy++) {
        const int32_t y0 = oy * s - pad;
        const int row_inside = y0 >= 0 && y0 + k <= in_dims->h;
        for (int32_t ox = 0; ox < out_dims->w; ox++) {
            const int32_t x0 = ox * s - pad;
            const int inside = row_inside && x0 >= 0 && x0 + k <= in_dims->w;
            for (int32_t o = 0; o < cout; o++) {
                const int8_t *w = filter + o * k * k * cin;
                int32_t acc = bias[o];
                if (inside) { /* no padding: sum w*x, plus in_offset * sum w */
                    int32_t sum = 0, wsum = 0;
                    for (int32_t ky = 0; ky < k; ky++) {
                        const uint8_t *px = in + ((int64_t)(y0 + ky) * in_dims->w + x0) * cin;
                        const int8_t *wk = w + ky * k * cin;
                        for (int32_t i = 0; i < k * cin; i++) {
                            sum += px[i] * wk[i];
                            wsum += wk[i];
                        }
                    }
                    acc += sum + p->in_offset * wsum;
                } else {
                    acc += rp_nn_conv_acc_u8(p, in_dims, in, w, oy, ox);
                }
                *out++ = (int8_t)rp_clamp(rp_requantize(acc, q->mult[o], q->shift[o]), p->act_min, p->act_max);
            }
        }
    }
    return RP_OK;
}
