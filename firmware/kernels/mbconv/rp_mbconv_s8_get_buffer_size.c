/* rp_mbconv_s8_get_buffer_size: see include/rp_mbconv.h. */
#include "rp_mbconv.h"

int32_t rp_mbconv_s8_get_buffer_size(const rp_mbconv_params *p, const rp_dims *in_dims) {
    const int32_t wo = (in_dims->w - 1) / p->stride + 1;
    return (3 * in_dims->w + wo) * p->c_hidden + (p->add ? wo * in_dims->c : 0); /* + the residual's row */
}
