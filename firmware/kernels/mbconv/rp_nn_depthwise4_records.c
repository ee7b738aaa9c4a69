/* rp_nn_depthwise4_records: see include/internal/rp_nn_conv.h. */
#include "internal/rp_dsp.h"
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
int rp_nn_depthwise4_records(uint32_t *recs, const rp_layer_weights *dw, int32_t c) {
    if (c < 4 || c % 4) return 0;
    for (int32_t c0 = 0; c0 < c; c0 += 4, recs += RP_DW4_WORDS)
        if (!rp_nn_depthwise4_pack(recs, dw, c0, c, 0)) return 0;
    return 1;
}
#endif /* RP_USE_DSP */
