/* rp_sigmoid_q14: see include/rp_kernels.h. */
#include "rp_kernels.h"

int32_t rp_sigmoid_q14(int64_t v) {
    return (16384 + rp_tanh_q14(v >> 1)) >> 1; /* sigmoid(x) = (1 + tanh(x / 2)) / 2 */
}
