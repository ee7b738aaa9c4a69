/* rp_conv2d_s8_s16_get_fast_buffer_size: see include/rp_kernels.h. */
#include "internal/rp_nn_conv.h"
#include "rp_kernels.h"

int32_t rp_conv2d_s8_s16_get_fast_buffer_size(const rp_dims *in_dims) { return rp_nn_conv_ring_bytes(in_dims); }
