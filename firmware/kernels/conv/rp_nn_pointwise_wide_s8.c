/* rp_nn_pointwise_wide_s8: see include/internal/rp_nn_conv.h. */
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
/* Four output channels at a time in assembly (rp_nn_pointwise4_s8.c), each group's record from recs or, without
 * them, made on the stack (2 KB). */
void rp_nn_pointwise_wide_s8(const rp_quant_params *q, const uint32_t *in, int32_t n_pixels, int32_t c_in,
                             const int8_t *filter, const int32_t *bias, int32_t c_out, int32_t act_min, int8_t *out,
                             const uint32_t *recs) {
    uint32_t rec[RP_NN_PW4_RECORD_WORDS(128)];
    const int32_t words = RP_NN_PW4_RECORD_WORDS(c_in);
    for (int32_t o = 0; n_pixels > 0 && o < c_out; o += 4) {
        const uint32_t *r = recs ? recs + (o / 4) * words : rec;
        if (!recs) rp_nn_pointwise4_record(rec, q, filter, bias, c_in, o);
        const int32_t args[4] = {(int32_t)(intptr_t)(in + n_pixels * c_in / 2), c_out,
                                 (int32_t)(intptr_t)(r + 4 + 2 * c_in), c_in / 32};
        (act_min == 0 ? rp_nn_pointwise4_relu_wide : rp_nn_pointwise4_s8_wide)(r, in, out + o, args);
    }
}
#endif /* RP_USE_DSP */
