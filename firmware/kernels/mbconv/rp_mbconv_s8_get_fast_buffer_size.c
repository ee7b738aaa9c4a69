/* rp_mbconv_s8_get_fast_buffer_size: see include/rp_mbconv.h. */
#include "internal/rp_nn_conv.h"
#include "rp_mbconv.h"

int32_t rp_mbconv_s8_get_fast_buffer_size(const rp_mbconv_params *p, const rp_dims *in_dims, int32_t c_out) {
    const int32_t hid = p->c_hidden;
    const int32_t recs = rp_nn_pointwise_wide_records_bytes(in_dims->c, hid) +
                         rp_nn_pointwise_wide_records_bytes(hid, c_out) + rp_nn_depthwise4_records_bytes(hid, p->stride);
    return rp_mbconv_s8_get_buffer_size(p, in_dims) + (recs ? recs + 3 : 0); /* + 3: the records' alignment */
}
