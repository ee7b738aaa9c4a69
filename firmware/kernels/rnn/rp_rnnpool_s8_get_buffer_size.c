/* rp_rnnpool_s8_get_buffer_size: see include/rp_kernels.h. */
#include "internal/rp_nn_rnn.h"
#include "rp_kernels.h"

int32_t rp_rnnpool_s8_get_buffer_size(const rp_rnnpool_params *p, const rp_dims *in_dims) {
    const int32_t pw = (in_dims->w - p->patch) / p->stride + 1;
    const int32_t used_w = (pw - 1) * p->stride + p->patch; /* stem columns any patch reads */
    /* the larger of the generic path's RNN1 summaries (ring of rows, columns) and the fast path's projections and
     * cells (+2: from the contract's 2-byte alignment to a 4-byte boundary); then one output row without its
     * replicate column */
    const int32_t generic = (p->patch * pw + used_w) * p->rnn1->n_hidden * (int32_t)sizeof(int16_t);
    const int32_t fast = 2 + rp_nn_rnnpool_fast_bytes(p, pw);
    return (generic > fast ? generic : fast) + pw * 4 * p->rnn2->n_hidden;
}
