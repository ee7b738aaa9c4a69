/* rp_sigmoid_q14: see include/rp_kernels.h. */
#include "internal/rp_nn_rnn.h"
#include "rp_kernels.h"

int32_t rp_sigmoid_q14(int64_t v) { /* sig_q only depends on clamp(v, -2^18, 2^18 - 1) (rp_nn_sigmoid_i32) */
    const int32_t c = (int32_t)(v < -(1 << 18) ? -(1 << 18) : (v > (1 << 18) ? 1 << 18 : v));
    return rp_nn_sigmoid_i32(rp_nn_tanh_pairs(), c);
}
