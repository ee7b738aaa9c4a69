/* rp_mbconv_s8_get_buffer_size: see include/rp_mbconv.h. */
#include "internal/rp_nn_conv.h"
#include "rp_mbconv.h"

int32_t rp_mbconv_s8_get_buffer_size(const rp_mbconv_params *p, const rp_dims *in_dims) {
    const int32_t w = in_dims->w, wo = (w - 1) / p->stride + 1, c_in = in_dims->c, hid = p->c_hidden;
    return 3 * w * hid + 2 * rp_nn_mbconv_half(w, wo, c_in, hid) + (p->add ? wo * c_in : 0); /* + the residual's */
}
