/* rp_nn_conv_dims_ok: see include/internal/rp_nn_conv.h. */
#include "internal/rp_nn_conv.h"

int rp_nn_conv_dims_ok(const rp_conv_params *p, const rp_dims *in_dims, const rp_dims *filter_dims,
                       const rp_dims *out_dims) {
    const int32_t k = p->kernel, s = p->stride, pad = k / 2;
    if ((k != 1 && k != 3) || (s != 1 && s != 2) || in_dims->h < 1 || in_dims->w < 1 || out_dims->c < 1)
        return 0;
    return filter_dims->h == k && filter_dims->w == k && filter_dims->c == in_dims->c &&
           out_dims->h == (in_dims->h + 2 * pad - k) / s + 1 && out_dims->w == (in_dims->w + 2 * pad - k) / s + 1;
}
