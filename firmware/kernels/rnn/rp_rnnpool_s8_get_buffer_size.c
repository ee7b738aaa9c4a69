/* rp_rnnpool_s8_get_buffer_size: see include/rp_kernels.h. */
#include "rp_kernels.h"

int32_t rp_rnnpool_s8_get_buffer_size(const rp_rnnpool_params *p, const rp_dims *in_dims) {
    const int32_t pw = (in_dims->w - p->patch) / p->stride + 1;
    const int32_t used_w = (pw - 1) * p->stride + p->patch; /* stem columns any patch reads */
    /* RNN1 summaries (ring of rows, columns), then one output row without its replicate column */
    return (p->patch * pw + used_w) * p->rnn1->n_hidden * (int32_t)sizeof(int16_t) + pw * 4 * p->rnn2->n_hidden;
}
