/* rp_rnnpool_s8: see include/rp_kernels.h. */
#include "rp_kernels.h"

rp_status rp_rnnpool_s8(const rp_context *ctx, const rp_rnnpool_params *p, const rp_dims *in_dims, const int8_t *in,
                        const rp_dims *out_dims, int8_t *out) {
    return rp_rnnpool_s8_rows(ctx, p, in_dims, in, out_dims, out, 0, out_dims->h - 1);
}
