/* rp_nn_pointwise_wide_records: see include/internal/rp_nn_conv.h. */
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
void rp_nn_pointwise_wide_records(uint32_t *recs, const rp_quant_params *q, const int8_t *filter,
                                  const int32_t *bias, int32_t c_in, int32_t c_out) {
    for (int32_t o = 0; o < c_out; o += 4, recs += RP_NN_PW4_RECORD_WORDS(c_in))
        rp_nn_pointwise4_record(recs, q, filter, bias, c_in, o);
}
#endif /* RP_USE_DSP */
