/* rp_nn_depthwise4_pack: see include/internal/rp_nn_conv.h. */
#include "internal/rp_dsp.h"
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
int rp_nn_depthwise4_pack(uint32_t *r, const rp_layer_weights *dw, int32_t c0, int32_t c, unsigned missing) {
    const int32_t *mult = dw->q.mult + c0, *shift = dw->q.shift + c0;
    const int8_t *f = dw->w + c0;
    for (int j = 0; j < 4; j++) {
        if (shift[j] > -2) return 0;
        const int32_t s = -1 - shift[j];
        r[j] = (uint32_t)dw->bias[c0 + j];
        r[22 + 2 * j] = (uint32_t)mult[j], r[23 + 2 * j] = 1u << (s - 1), r[30 + j] = (uint32_t)s;
    }
    const uint32_t keep = (missing & 1u ? 0u : 0xFFFFu) | (missing & 2u ? 0u : 0xFFFF0000u);
    for (int kx = 0; kx < 3; kx++) {
        const uint32_t a = rp_read_s8x4(f + kx * c), b = rp_read_s8x4(f + (3 + kx) * c);
        const uint32_t t = missing & 4u ? 0u : rp_read_s8x4(f + (6 + kx) * c);
        const uint32_t lo = rp_pkhbt(a, b), hi = rp_pkhtb(a, b);
        uint32_t *d = r + 4 + 6 * kx;
        d[0] = rp_sxtb16_even(lo) & keep, d[1] = rp_sxtb16_odd(lo) & keep;
        d[2] = rp_sxtb16_even(hi) & keep, d[3] = rp_sxtb16_odd(hi) & keep;
        d[4] = rp_sxtb16_even(t), d[5] = rp_sxtb16_odd(t);
    }
    return 1;
}
#endif /* RP_USE_DSP */
