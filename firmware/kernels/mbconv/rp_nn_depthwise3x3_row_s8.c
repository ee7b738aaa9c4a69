/* rp_nn_depthwise3x3_row_s8: see include/rp_mbconv.h. */
#include "rp_mbconv.h"
#include "rp_requantize.h"

#define RP_MAX_DW_CHANNELS 512

void rp_nn_depthwise3x3_row_s8(const rp_layer_weights *dw, const int8_t *const rows[3], int32_t w, int32_t c,
                               int32_t stride, int32_t wo, int8_t *out) {
    int32_t acc[RP_MAX_DW_CHANNELS];
    for (int32_t ox = 0; ox < wo; ox++, out += c) {
        for (int32_t i = 0; i < c; i++) acc[i] = dw->bias[i];
        const int32_t x0 = ox * stride - 1;
        for (int32_t ky = 0; ky < 3; ky++) {
            if (!rows[ky]) continue;
            for (int32_t kx = 0; kx < 3; kx++) {
                const int32_t x = x0 + kx;
                if (x < 0 || x >= w) continue;
                const int8_t *px = rows[ky] + x * c, *wt = dw->w + (ky * 3 + kx) * c;
                for (int32_t i = 0; i < c; i++) acc[i] += (int32_t)px[i] * wt[i];
            }
        }
        for (int32_t i = 0; i < c; i++)
            out[i] = (int8_t)rp_clamp(rp_requantize(acc[i], dw->q.mult[i], dw->q.shift[i]), dw->act_min, dw->act_max);
    }
}
