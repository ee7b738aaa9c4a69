/* Fused MBConv block and on-device post-processing: types and contracts (conventions as in rp_kernels.h). */
#ifndef RP_MBCONV_H
#define RP_MBCONV_H

#include "rp_kernels.h"

/* One convolution's weights and requantisation; act_min/act_max clamp its output (numerics §3). */
typedef struct {
    const int8_t *w;
    const int32_t *bias;
    rp_quant_params q;
    int32_t act_min, act_max;
} rp_layer_weights;

typedef struct {
    int32_t c_hidden;           /* expanded channels */
    int32_t stride;             /* depthwise stride, 1 or 2 */
    rp_layer_weights expand;    /* 1x1, w [c_hidden][c_in] */
    rp_layer_weights dw;        /* 3x3 depthwise, w [3][3][c_hidden] */
    rp_layer_weights project;   /* 1x1, w [c_out][c_hidden] */
    const rp_add_params *add;   /* residual add (stride 1, c_in == c_out), or NULL */
} rp_mbconv_params;

/* MBConv (expand 1x1 -> depthwise 3x3 -> project 1x1 [-> residual add]) without materialising the expanded
 * tensor: expanded rows live in a ring of 3 rows, one depthwise output row at a time is projected (EdgeML's
 * scheme, notes §3). Bit-exact with the unfused layers of harness/model/fixed_ref.py.
 * ctx  scratch of rp_mbconv_s8_get_buffer_size(p, in_dims) bytes: (3 * W + Wo) * c_hidden, + Wo * C_in with
 *      the residual add
 * in   [H, W, C_in] int8;  out [Ho, Wo, C_out] int8, Ho = (H - 1) / stride + 1.
 * In place: out may equal in when Wo * C_out <= stride * W * C_in (output row oy is written only after every
 * input row it covers has been expanded and, with the residual, read); otherwise out must not overlap in. */
rp_status rp_mbconv_s8(const rp_context *ctx, const rp_mbconv_params *p, const rp_dims *in_dims, const int8_t *in,
                       const rp_dims *out_dims, int8_t *out);
int32_t rp_mbconv_s8_get_buffer_size(const rp_mbconv_params *p, const rp_dims *in_dims);
/* A larger scratch, optional (the code generator gives it where the arena does not grow): with it the DSP build
 * makes the 1x1 layers' records (their widened weights) once per call instead of once per row. The same result. */
int32_t rp_mbconv_s8_get_fast_buffer_size(const rp_mbconv_params *p, const rp_dims *in_dims, int32_t c_out);

/* A detection candidate: one prior whose face score may reach the threshold, with its raw head values. */
typedef struct {
    uint16_t prior;             /* index in the raw vector's prior order (head by head, row-major) */
    int16_t conf_bg, conf_face; /* after max-out */
    int16_t loc[4];
} rp_candidate;

typedef struct {
    int32_t prior_base;         /* index of this head's first prior */
    int32_t threshold;          /* keep when conf_face - conf_bg >= threshold (integer steps of the conf scale) */
} rp_candidates_params;

/* Appends this head's candidates, in prior order, to out[*count ..]; *count counts every candidate, those past
 * max are counted but not stored. conf [H, W, 4 or 2] int16 (4: background = max of channels 0..2, face = 3);
 * loc [H, W, 4] int16. */
rp_status rp_candidates_s16(const rp_candidates_params *p, const rp_dims *conf_dims, const int16_t *conf,
                            const int16_t *loc, rp_candidate *out, int32_t max, int32_t *count);

#endif /* RP_MBCONV_H */
