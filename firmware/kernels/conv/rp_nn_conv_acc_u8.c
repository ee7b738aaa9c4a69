/* rp_nn_conv_acc_u8: see include/internal/rp_nn_conv.h. */
#include "internal/rp_nn_conv.h"

int32_t rp_nn_conv_acc_u8(const rp_conv_params *p, const rp_dims *in_dims, const uint8_t *in,
                          const int8_t *filter_o, int32_t oy, int32_t ox) {
    const int32_t k = p->kernel, pad = k / 2, cin = in_dims->c;
    int32_t acc = 0;
    for (int32_t ky = 0; ky < k; ky++) {
        const int32_t y = oy * p->stride + ky - pad;
        if (y < 0 || y >= in_dims->h) continue; /* padding contributes 0 after the offset */
        for (int32_t kx = 0; kx < k; kx++) {
            const int32_t x = ox * p->stride + kx - pad;
            if (x < 0 || x >= in_dims->w) continue;
            const uint8_t *px = in + ((int64_t)y * in_dims->w + x) * cin;
            const int8_t *wk = filter_o + ((int64_t)ky * k + kx) * cin;
            for (int32_t c = 0; c < cin; c++) acc += ((int32_t)px[c] + p->in_offset) * wk[c];
        }
    }
    return acc;
}
