/* rp_nn_depthwise3x3_row_s8: see include/rp_mbconv.h. */
#include "rp_mbconv.h"
#include "rp_requantize.h"

/* Accumulators stay in registers: channels go in groups of four over the pixel's valid taps (all nine inside
 * the row, fewer at the edges and next to missing rows). */
void rp_nn_depthwise3x3_row_s8(const rp_layer_weights *dw, const int8_t *const rows[3], int32_t w, int32_t c,
                               int32_t stride, int32_t wo, int8_t *out) {
    for (int32_t ox = 0; ox < wo; ox++, out += c) {
        const int8_t *px[9], *wt[9];
        int32_t n = 0;
        const int32_t x0 = ox * stride - 1;
        for (int32_t ky = 0; ky < 3; ky++) {
            if (!rows[ky]) continue;
            for (int32_t kx = 0; kx < 3; kx++) {
                const int32_t x = x0 + kx;
                if (x < 0 || x >= w) continue;
                px[n] = rows[ky] + x * c;
                wt[n++] = dw->w + (ky * 3 + kx) * c;
            }
        }
        int32_t i = 0;
        for (; i + 3 < c; i += 4) {
            int32_t a0 = dw->bias[i], a1 = dw->bias[i + 1], a2 = dw->bias[i + 2], a3 = dw->bias[i + 3];
            for (int32_t t = 0; t < n; t++) {
                const int8_t *p = px[t] + i, *k = wt[t] + i;
                a0 += p[0] * k[0];
                a1 += p[1] * k[1];
                a2 += p[2] * k[2];
                a3 += p[3] * k[3];
            }
            const int32_t acc[4] = {a0, a1, a2, a3};
            for (int32_t j = 0; j < 4; j++)
                out[i + j] = (int8_t)rp_clamp(rp_requantize(acc[j], dw->q.mult[i + j], dw->q.shift[i + j]),
                                              dw->act_min, dw->act_max);
        }
        for (; i < c; i++) {
            int32_t a = dw->bias[i];
            for (int32_t t = 0; t < n; t++) a += px[t][i] * wt[t][i];
            out[i] = (int8_t)rp_clamp(rp_requantize(a, dw->q.mult[i], dw->q.shift[i]), dw->act_min, dw->act_max);
        }
    }
}
