/* rp_nn_pointwise_wide_ok: see include/internal/rp_nn_conv.h. */
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
int rp_nn_pointwise_wide_ok(const rp_quant_params *q, int32_t c_in, int32_t c_out, int32_t act_min,
                            int32_t act_max) {
    if (c_in < 32 || c_in > 128 || c_in % 32 || c_out < 4 || c_out % 4 || act_max != 127 ||
        (act_min != 0 && act_min != -128))
        return 0;
    for (int32_t o = 0; o < c_out; o++)
        if (q->shift[o] > -2) return 0;
    return 1;
}
#endif /* RP_USE_DSP */
