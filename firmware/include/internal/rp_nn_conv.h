/* Internals of the convolution kernels (firmware/kernels/conv), not a kernel API: the dense convolution engine
 * behind rp_conv2d_s8 and rp_conv2d_s8_s16, and the helpers the rp_conv2d_* and depthwise kernels share. */
#ifndef RP_INTERNAL_NN_CONV_H
#define RP_INTERNAL_NN_CONV_H

#include <stdint.h>

#include "rp_kernels.h"

/* Accumulator of one output pixel and channel of a dense convolution (shared by the rp_conv2d_* kernels). */
int32_t rp_nn_conv_acc_s8(const rp_conv_params *p, const rp_dims *in_dims, const int8_t *in, const int8_t *filter_o,
                          int32_t oy, int32_t ox);

/* Whether filter_dims and out_dims follow from in_dims and the conv params (kernel 1 or 3, stride 1 or 2). */
int rp_nn_conv_dims_ok(const rp_conv_params *p, const rp_dims *in_dims, const rp_dims *filter_dims,
                       const rp_dims *out_dims);

/* The dense convolution behind rp_conv2d_s8 (out_bytes = 1, int8 out) and rp_conv2d_s8_s16 (out_bytes = 2, int16
 * out): same arguments and contract, shapes already checked (rp_nn_conv_dims_ok). Uses 4.5 KB of stack. */
void rp_nn_conv_s8(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims, const int8_t *in,
                   const int8_t *filter, const int32_t *bias, const rp_dims *out_dims, void *out, int32_t out_bytes);

#endif /* RP_INTERNAL_NN_CONV_H */
