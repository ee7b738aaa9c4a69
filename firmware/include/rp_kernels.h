/* RNNPool face-detector kernels: types and contracts.
 *
 * Every kernel: (op params, quant params, dims + data pairs with const inputs first, output last) -> rp_status.
 * Tensors are HWC (batch 1), row-major, no padding between rows. Kernels never allocate and keep no state.
 * The arithmetic is docs/numerics.md; harness/model/fixed_ref.py is the bit-exact NumPy twin of every kernel.
 */
#ifndef RP_KERNELS_H
#define RP_KERNELS_H

#include <stdint.h>

typedef enum {
    RP_OK = 0,
    RP_ERR_ARG = 1,   /* a shape or parameter is outside the contract */
} rp_status;

typedef struct {
    int32_t h, w, c;
} rp_dims;

/* Caller-owned scratch memory for kernels that need it (size from their *_get_buffer_size function). */
typedef struct {
    void *buf;
    int32_t size;
} rp_context;

/* Per-output-channel requantisation (numerics §2): mult 0 or 2^30 <= |mult| < 2^31, shift in [-31, 30]. */
typedef struct {
    const int32_t *mult;
    const int32_t *shift;
} rp_quant_params;

typedef struct {
    int32_t kernel;     /* 1 or 3 (square), zero padding kernel / 2 */
    int32_t stride;     /* 1 or 2 */
    int32_t in_offset;  /* added to every in-tensor input value (the stem's -117); padding stays 0 */
    int32_t act_min;    /* output clamp, within the output type */
    int32_t act_max;
} rp_conv_params;

typedef struct {
    int32_t ka, kb;     /* Q14 input weights */
    int32_t mult, shift;
    int32_t act_min, act_max;
} rp_add_params;

/* Dense convolution, int8 -> int8.
 * in      [H, W, C_in] int8;  filter [C_out, k, k, C_in] int8 (OHWI), filter_dims = {k, k, C_in};  bias [C_out]
 * out     [Ho, Wo, C_out] int8, Ho = (H + 2*(k/2) - k) / stride + 1 (likewise Wo)
 * The quantiser guarantees |bias| + sum|w|*max|x + in_offset| < 2^31 (numerics §9): the int32 accumulator is exact.
 * Returns RP_ERR_ARG when out_dims do not follow from in_dims, filter_dims and the stride. */
rp_status rp_conv2d_s8(const rp_conv_params *p, const rp_quant_params *q,
                       const rp_dims *in_dims, const int8_t *in,
                       const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                       const rp_dims *out_dims, int8_t *out);

/* Dense convolution, int8 -> int16 (the detection heads); same contract as rp_conv2d_s8. */
rp_status rp_conv2d_s8_s16(const rp_conv_params *p, const rp_quant_params *q,
                           const rp_dims *in_dims, const int8_t *in,
                           const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                           const rp_dims *out_dims, int16_t *out);
/* The same with a scratch: with ctx->size >= rp_conv2d_s8_s16_get_fast_buffer_size(in_dims) > 0 the DSP build widens
 * each input row once, into a ring of three, for the interior pixels of 3x3 stride-1 layers clamped to the full int16
 * range (the heads); any smaller ctx, or NULL, is rp_conv2d_s8_s16. The same result either way. */
rp_status rp_conv2d_s8_s16_fast(const rp_context *ctx, const rp_conv_params *p, const rp_quant_params *q,
                                const rp_dims *in_dims, const int8_t *in,
                                const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                                const rp_dims *out_dims, int16_t *out);
int32_t rp_conv2d_s8_s16_get_fast_buffer_size(const rp_dims *in_dims);

/* The stem: dense convolution of an 8-bit grey image, uint8 -> int8; every in-tensor value is x + in_offset
 * (the -117 of the input normalisation), padded taps are 0. Same contract as rp_conv2d_s8 otherwise. */
rp_status rp_conv2d_u8_s8(const rp_conv_params *p, const rp_quant_params *q,
                          const rp_dims *in_dims, const uint8_t *in,
                          const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                          const rp_dims *out_dims, int8_t *out);
/* Its output rows [first, end) only, 0 <= first < end <= H_out, for an image that streams (docs/streaming.md): the
 * same bytes as the whole layer's rows there; it reads input rows stride * first - kernel / 2 up to
 * stride * (end - 1) + kernel / 2 and writes nothing outside its rows. */
rp_status rp_conv2d_u8_s8_rows(const rp_conv_params *p, const rp_quant_params *q,
                               const rp_dims *in_dims, const uint8_t *in,
                               const rp_dims *filter_dims, const int8_t *filter, const int32_t *bias,
                               const rp_dims *out_dims, int8_t *out, int32_t first, int32_t end);

/* L2Norm over the channels of each pixel (numerics §3): out_c = clamp(requantize(x_c * (2^24 / isqrt(S * 256)),
 * mult[c], shift[c]), -128, 127) with S = sum x_c^2; an all-zero pixel stays zero. in, out [H, W, C <= 512] int8. */
rp_status rp_l2norm_s8(const rp_quant_params *q, const rp_dims *dims, const int8_t *in, int8_t *out);

/* 3x3 depthwise convolution, zero padding 1, int8 -> int8.
 * in [H, W, C] int8; filter [3, 3, C] int8; bias [C] int32; out [Ho, Wo, C], Ho = (H - 1) / stride + 1.
 * p->kernel must be 3 and p->in_offset 0.
 * One rp_nn_depthwise3x3_row_s8 (rp_mbconv.h) per output row, NULL for the rows outside the tensor: the same
 * arithmetic, paths and speed as the fused MBConv's depthwise; about 0.6 KB of stack with the DSP path. */
rp_status rp_depthwise3x3_s8(const rp_conv_params *p, const rp_quant_params *q,
                             const rp_dims *in_dims, const int8_t *in,
                             const int8_t *filter, const int32_t *bias,
                             const rp_dims *out_dims, int8_t *out);

/* Residual add: out = clamp(requantize(a*ka + b*kb, mult, shift)); a, b, out [H, W, C] int8 (out may alias a or b). */
rp_status rp_add_s8(const rp_add_params *p, const rp_dims *dims, const int8_t *a, const int8_t *b, int8_t *out);

#define RP_MAX_HIDDEN 32 /* largest FastGRNN hidden size (and RNN input: stem channels, RNN1 hidden size) */
#define RP_MAX_PATCH 16

/* A FastGRNN cell's whole RNN1 and RNN2 sequences compiled for its requantisation (the DSP build's assembly with the
 * gate shift as an immediate, two instructions fewer per hidden unit, and no call per step): made by
 * RP_NN_GRNN16_GATES (include/internal/rp_nn_grnn16_asm.h) in the model's generated C. The functions are 0 in the
 * portable build. */
typedef struct {
    int32_t shift;     /* the gate shift it was compiled for: 6 - shift of the cell */
    int32_t one_index; /* 1: for cells whose bg - bh are multiples of 128, |bg - bh| <= 128 RP_NN_TANH_PAD */
    void (*seq_s8)(int32_t *frame, const uint32_t *gate, const int8_t *x, const int32_t args[5]);
    void (*seq_proj)(int32_t *frame, const uint32_t *gate, const int32_t *const *proj, const int32_t args[4]);
} rp_fastgrnn_gates;

/* One FastGRNN cell (numerics §4.2): w [n_hidden][n_in + n_hidden] int16 = [W | U]; bg, bh [n_hidden] int32 (Q14);
 * mult/shift requantise the int32 accumulator to the Q14 pre-activation; zeta, nu in [0, 16384];
 * hard != 0 selects the piecewise-linear sigmoid/tanh. gates: 0, or this cell's compiled gates (taken only when
 * they fit: n_hidden 16, the exact nonlinearities, zeta 16384, nu 0 and the same shift). */
typedef struct {
    int32_t n_in, n_hidden;
    const int16_t *w;
    int32_t x_shift;
    int32_t mult, shift;
    const int32_t *bg, *bh;
    int32_t zeta, nu;
    int32_t hard;
    const rp_fastgrnn_gates *gates;
} rp_fastgrnn_params;

typedef struct {
    int32_t patch, stride;             /* 8 and 4 in the face models */
    const rp_fastgrnn_params *rnn1;    /* n_in = stem channels */
    const rp_fastgrnn_params *rnn2;    /* n_in = rnn1->n_hidden, shared by both directions */
    int32_t out_mult, out_shift;       /* Q14 final states -> int8 output */
} rp_rnnpool_params;

/* RNNPool (numerics §4.3) with the replicate padding; each shared RNN1 sequence runs once.
 * ctx  scratch of rp_rnnpool_s8_get_buffer_size(p, in_dims) bytes (24,898 for the face models at 320x240), 2-byte
 *      aligned at least; its last Pw * 4 * rnn2->n_hidden bytes hold one output row until its patch row is done
 * in   [Hs, Ws, C] int8 (the stem output), C <= RP_MAX_HIDDEN; out [Ph + 1, Pw + 1, 4 * rnn2->n_hidden] int8 with
 *      Ph = (Hs - patch) / stride + 1 (likewise Pw); channels: rows fwd, rows bwd, cols fwd, cols bwd.
 * Requires stride <= patch <= RP_MAX_PATCH.
 * In place: out may equal in when (Pw + 1) * 4 * rnn2->n_hidden <= stride * Ws * C (an output row is no longer
 * than the stem rows its patch row releases); otherwise out must not overlap in.
 * Two paths, both bit-exact. The fast one (32-bit arithmetic, weights regrouped in the scratch, RNN2's input half
 * computed once per summary) runs when both cells have hidden sizes that are multiples of 4, shift in
 * [-31, -2] ([-25, -2] with the exact nonlinearities), biases whose folds stay within 2^30 (rp_nn_fastgrnn_prepare),
 * rnn1->x_shift is 0..8 and rnn2->x_shift 0, and the scratch has room for it (22,400 of the
 * 22,402 bytes before the row buffer at 320x240); otherwise the same traversal runs rp_nn_fastgrnn_step (int64
 * requantisation).
 * Uses about 1.1 KB of stack (fast path) or 1.9 KB (generic). */
rp_status rp_rnnpool_s8(const rp_context *ctx, const rp_rnnpool_params *p, const rp_dims *in_dims, const int8_t *in,
                        const rp_dims *out_dims, int8_t *out);
/* rp_rnnpool_s8 by patch rows, for a stem that streams (docs/streaming.md): patch rows [first, end), 0 <= first <
 * end <= Ph, each with its replicate column; end == Ph adds the replicate row (first == end == Ph: that row alone,
 * when the stem rows it waits for are ones no patch reads). The ranges of one image are called in
 * order from first = 0, the scratch untouched between calls (it keeps the RNN1 summaries of the stem rows the next
 * patch row shares); stem rows are read up to (end - 1) * stride + patch - 1. Calling it once over [0, Ph) is
 * rp_rnnpool_s8. */
rp_status rp_rnnpool_s8_rows(const rp_context *ctx, const rp_rnnpool_params *p, const rp_dims *in_dims,
                             const int8_t *in, const rp_dims *out_dims, int8_t *out, int32_t first, int32_t end);
int32_t rp_rnnpool_s8_get_buffer_size(const rp_rnnpool_params *p, const rp_dims *in_dims);

/* Q14 tanh and sigmoid by their 2048-entry tables, x rounded to the nearest 1/128 (numerics §4.1), for any v.
 * The RNN kernels inline both (include/internal/rp_nn_rnn.h). */
int32_t rp_tanh_q14(int64_t v);
int32_t rp_sigmoid_q14(int64_t v);

/* The kernels' internals (rp_nn_*) are in include/internal/, not here. */

#endif /* RP_KERNELS_H */
