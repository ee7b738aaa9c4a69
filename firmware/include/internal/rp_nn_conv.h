/* Internals of the convolution kernels (firmware/kernels/conv, kernels/mbconv), not a kernel API: the dense
 * convolution engine behind rp_conv2d_s8 and rp_conv2d_s8_s16, the helpers the rp_conv2d_* and depthwise kernels
 * share, and the 1x1 and depthwise-row building blocks of rp_mbconv_s8. */
#ifndef RP_INTERNAL_NN_CONV_H
#define RP_INTERNAL_NN_CONV_H

#include <stdint.h>

#include "internal/rp_config.h"
#include "internal/rp_dsp.h"
#include "rp_kernels.h"
#include "rp_mbconv.h"

/* The portable paths' two MACs per multiply-add (rp_nn_pointwise_s8, rp_nn_conv_s8): two int8 weights as one int32
 * w0 + w1 2^23 (|w1 2^23| <= 2^30: no overflow). One 32x32 -> 64-bit multiply-add of an input x by it adds
 * x w0 + x w1 2^23 to an int64 (SMLAL on the M4, from plain C). Over at most RP_NN_PAIR_RUN products the low sum
 * S0 = sum x w0 lies in [-256 * 16256, 256 * 16384] (|x|, |w| <= 128, and only -128 * -128 reaches 2^14), inside
 * the window [-(2^22 - 1), 2^22]: the total A = S0 + S1 2^23 gives S0 back as ((A + 2^22 - 1) mod 2^23) -
 * (2^22 - 1), and S1 as (A - S0) / 2^23, both exact; rp_nn_split_s8 adds them to s0 and s1. */
#define RP_NN_PAIR_RUN 256
static inline int32_t rp_nn_pair_s8(int8_t w0, int8_t w1) { return (int32_t)w0 + (int32_t)w1 * (1 << 23); }
static inline void rp_nn_split_s8(int64_t a, int32_t *s0, int32_t *s1) {
    const int32_t lo = (int32_t)(((uint32_t)a + ((1u << 22) - 1)) & ((1u << 23) - 1)) - ((1 << 22) - 1);
    *s0 += lo, *s1 += (int32_t)((a - lo) >> 23);
}

/* Accumulator of one output pixel and channel of a dense convolution (shared by the rp_conv2d_* kernels). */
int32_t rp_nn_conv_acc_s8(const rp_conv_params *p, const rp_dims *in_dims, const int8_t *in, const int8_t *filter_o,
                          int32_t oy, int32_t ox);

/* The same for a uint8 input (the stem's): sum over the taps inside the tensor of (x + in_offset) * w. */
int32_t rp_nn_conv_acc_u8(const rp_conv_params *p, const rp_dims *in_dims, const uint8_t *in,
                          const int8_t *filter_o, int32_t oy, int32_t ox);

/* rp_conv2d_u8_s8_rows for the face models' stem: kernel 3, stride 2, one input channel, 1 <= C_out <=
 * RP_NN_STEM_MAX_OUT; same arguments (output rows [first, last)) and result, shapes already checked. The weights are
 * widened and in_offset * sum(w) folded into the bias once per call. An interior pixel reads each of its three
 * rows in one word (bytes x0 - 1 .. x0 + 2, never outside the row) and takes five SMLAD-class multiplies per
 * channel on the DSP path (four ReLU channels: rp_nn_stem4_relu, in assembly); the first output row and column, and
 * the last ones when H or W is odd, take the padded path (rp_nn_conv_acc_u8's arithmetic over the pixel's nine taps
 * gathered once). Uses about 0.3 KB of stack. */
#define RP_NN_STEM_MAX_OUT 8
void rp_nn_conv3x3s2_c1_u8_s8(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims,
                              const uint8_t *in, const int8_t *filter, const int32_t *bias, const rp_dims *out_dims,
                              int8_t *out, int32_t first, int32_t last);

/* Whether filter_dims and out_dims follow from in_dims and the conv params (kernel 1 or 3, stride 1 or 2). */
int rp_nn_conv_dims_ok(const rp_conv_params *p, const rp_dims *in_dims, const rp_dims *filter_dims,
                       const rp_dims *out_dims);

/* The dense convolution behind rp_conv2d_s8 (out_bytes = 1, int8 out) and rp_conv2d_s8_s16 (out_bytes = 2, int16
 * out): same arguments and contract, shapes already checked (rp_nn_conv_dims_ok). ring: 0, or (the DSP build's
 * rp_conv2d_s8_s16_fast) rp_nn_conv_ring_bytes - 3 bytes, 4-byte aligned, for three widened input rows, which the
 * interior rows of the heads' kind (int16 over its full range, 3x3 stride 1) then read: each input row widened once
 * per group of output channels instead of once per use. Uses 4.5 KB of stack. */
void rp_nn_conv_s8(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims, const int8_t *in,
                   const int8_t *filter, const int32_t *bias, const rp_dims *out_dims, void *out, int32_t out_bytes,
                   uint32_t *ring);
/* Bytes of that ring and the row assembly's seven arguments, + 3 to align them, for in_dims with c a multiple of 32
 * (the rows the assembly takes), else 0; in both builds, as the arena is planned once for both. */
static inline int32_t rp_nn_conv_ring_bytes(const rp_dims *in_dims) {
    return in_dims->c >= 32 && in_dims->c % 32 == 0 ? 3 * in_dims->w * in_dims->c * 2 + 7 * 4 + 3 : 0;
}

/* The building block of rp_conv2d_s8's 1x1 case and rp_mbconv_s8: 1x1 convolution over n_pixels consecutive HWC
 * pixels, int8 -> int8 (the MBConv expand and project layers):
 * out[p][o] = clamp(requantize(bias[o] + sum_i filter[o][i] * in[p][i], q->mult[o], q->shift[o]), act_min, act_max).
 * in [n_pixels][c_in] int8; filter [c_out][c_in] int8; bias [c_out] int32; out [n_pixels][c_out] int8, which must
 * not overlap in. n_pixels >= 0, c_in >= 1, c_out >= 1 (any values; multiples of 4 are fastest);
 * -128 <= act_min <= act_max <= 127. No alignment is required. The caller validates; there is no status.
 * Uses 2 KB of stack. */
void rp_nn_pointwise_s8(const rp_quant_params *q, const int8_t *in, int32_t n_pixels, int32_t c_in,
                        const int8_t *filter, const int32_t *bias, int32_t c_out, int32_t act_min, int32_t act_max,
                        int8_t *out);

/* Words of one group's record of the fast path below (rp_nn_pointwise4_record) for c_in input channels: the biases,
 * the paired weights, the tail. */
#define RP_NN_PW4_RECORD_WORDS(c_in) (4 + 2 * (c_in) + 12)
/* Bytes of a pointwise layer's records (rp_nn_pointwise_wide_records) when its shape suits the wide path (c_in a
 * multiple of 32 up to 128, c_out of 4), else 0; in both builds, as the arena is planned once for both. */
static inline int32_t rp_nn_pointwise_wide_records_bytes(int32_t c_in, int32_t c_out) {
    return c_in >= 32 && c_in <= 128 && c_in % 32 == 0 && c_out >= 4 && c_out % 4 == 0
               ? c_out / 4 * RP_NN_PW4_RECORD_WORDS(c_in) * 4
               : 0;
}

#if RP_USE_DSP
/* rp_nn_pointwise_s8's fast path in Cortex-M4 assembly (rp_nn_pointwise4_s8.c), for four output channels whose
 * shifts are all <= -2 and a clamp of [0, 127] (_relu) or [-128, 127] (_s8), c_in a positive multiple of 32:
 * y[p * c_out + k] for the n >= 1 pixels from in (n * c_in int8) and k = 0..3. rec (4-byte aligned): the biases
 * (4 words), per 4 input channels the pairs [w(k, i), w(k, i + 2)], [w(k, i + 1), w(k, i + 3)] of k = 0..3 (8
 * words: rp_sxtb16_even/odd of the filter words), then mult, rnd of k = 0..3 (8 words) and s of k = 0..3 (4
 * words; rp_requantize_fast's arguments). args: {in + n * c_in, c_out, rec + 4 + 2 * c_in}. */
void rp_nn_pointwise4_relu(const uint32_t *rec, const int8_t *in, int8_t *y, const int32_t args[3]);
void rp_nn_pointwise4_s8(const uint32_t *rec, const int8_t *in, int8_t *y, const int32_t args[3]);
/* The same over wide input, c_in 32, 64, 96 or 128 (its channels unrolled): in holds per 4 input channels the words
 * rp_sxtb16_even, rp_sxtb16_odd of their int8 word (rp_nn_widen_s8), n * c_in / 2 words in all (4-byte aligned);
 * args: {in + n * c_in / 2, c_out, rec + 4 + 2 * c_in, c_in / 32}. */
void rp_nn_pointwise4_relu_wide(const uint32_t *rec, const uint32_t *in, int8_t *y, const int32_t args[4]);
void rp_nn_pointwise4_s8_wide(const uint32_t *rec, const uint32_t *in, int8_t *y, const int32_t args[4]);
/* dst = the wide form of the n int8 at src (n a positive multiple of 16; both 4-byte aligned): per word of four,
 * rp_sxtb16_even then rp_sxtb16_odd. src may lie up to n bytes above dst: widening a row in place from the upper
 * half of its own buffer. */
void rp_nn_widen_s8(uint32_t *dst, const int8_t *src, int32_t n);
/* rec's weights (from word 4) for the four filter rows at w ([4][c_in] int8, any alignment; c_in a positive
 * multiple of 8): dst[8 j + 2 k] = rp_sxtb16_even(w[k][4 j .. 4 j + 3]), dst[8 j + 2 k + 1] = the odd lanes. */
void rp_nn_pointwise4_widen(uint32_t *dst, const int8_t *w, int32_t c_in);
/* Fills rec (above) for output channels o .. o + 3 of a pointwise layer; returns its tail (mult, rnd, s). */
static inline uint32_t *rp_nn_pointwise4_record(uint32_t *rec, const rp_quant_params *q, const int8_t *filter,
                                                const int32_t *bias, int32_t c_in, int32_t o) {
    uint32_t *tail = rec + 4 + 2 * c_in;
    for (int k = 0; k < 4; k++) {
        const int32_t s = -1 - q->shift[o + k];
        rec[k] = (uint32_t)bias[o + k];
        tail[2 * k] = (uint32_t)q->mult[o + k], tail[2 * k + 1] = 1u << (s - 1), tail[8 + k] = (uint32_t)s;
    }
    rp_nn_pointwise4_widen(rec + 4, filter + o * c_in, c_in);
    return tail;
}
/* Whether rp_nn_pointwise_wide_s8 takes a layer: c_in a multiple of 32 up to 128, c_out of 4, every shift <= -2,
 * the clamp [0, 127] or [-128, 127]. */
int rp_nn_pointwise_wide_ok(const rp_quant_params *q, int32_t c_in, int32_t c_out, int32_t act_min, int32_t act_max);
/* rp_nn_pointwise_s8 for a layer rp_nn_pointwise_wide_ok takes, over wide input (rp_nn_widen_s8 of in): from the
 * layer's records (rp_nn_pointwise_wide_records) when recs is not 0, else making each group's on the stack. */
void rp_nn_pointwise_wide_s8(const rp_quant_params *q, const uint32_t *in, int32_t n_pixels, int32_t c_in,
                             const int8_t *filter, const int32_t *bias, int32_t c_out, int32_t act_min, int8_t *out,
                             const uint32_t *recs);
/* Every group's record (rp_nn_pointwise4_record) of such a layer, one after another in recs (4-byte aligned,
 * c_out / 4 * RP_NN_PW4_RECORD_WORDS(c_in) words): a caller that runs the layer over many rows makes them once. */
void rp_nn_pointwise_wide_records(uint32_t *recs, const rp_quant_params *q, const int8_t *filter,
                                  const int32_t *bias, int32_t c_in, int32_t c_out);
/* acc[k] += sum over r < rows of the dot product of the n int8 at x + r * (n + skip) with lane k of the paired
 * weights w (4-byte aligned; the same layout as rec's, consecutive over the segments); n a positive multiple of 32,
 * rows >= 1. args: {n, skip, rows}. rp_nn_conv_s8's full-width window rows (3x3: n = 3 c_in). */
void rp_nn_conv4_dot(const uint32_t *w, const int8_t *x, int32_t acc[4], const int32_t args[3]);
/* rp_nn_conv_s8's interior pixels of one output row for a group of four consecutive channels, int16 out over its
 * full range: per pixel acc = the biases + the k window rows of n bytes (n = k c_in, a multiple of 32; x at the
 * window's top left, the rows n + skip apart, w the group's paired weights as for rp_nn_conv4_dot), then
 * y[j] = SSAT16(rp_requantize_fast64(acc[j], mult[j], rnd[j], s[j])) with the int32 biases, mult and s and the int64
 * rnd at params, + 16, + 32, + 48 bytes. args: {n, skip, x_step, y_step (bytes), pixels >= 1, params}; k = 3. */
void rp_nn_conv4_row_s16(const uint32_t *w, const int8_t *x, int16_t *y, const int32_t args[6]);
/* The same for two lanes of pixel pairs (p, q = p + x_step / 2; w: per 4 weights the pairs [even, odd] of lane 0,
 * then of lane 1): per pair acc = {p lane 0, p lane 1, q lane 0, q lane 1}, stored at y, y + 1 and y_step / 4,
 * y_step / 4 + 1 further (int16). args: {n, skip, x_step, y_step (bytes, per pair), pairs >= 1, params}. */
void rp_nn_conv2x2_row_s16(const uint32_t *w, const int8_t *x, int16_t *y, const int32_t args[6]);
/* Both over the wide form of the input rows (rp_nn_widen_s8) in a ring, any order: x, n, skip and the steps in
 * bytes of wide rows (n = 6 c_in), window row 1 skip bytes after row 0's end and row 2 args[6] after row 1's. */
void rp_nn_conv4_row_s16_wide(const uint32_t *w, const uint32_t *x, int16_t *y, const int32_t args[7]);
void rp_nn_conv2x2_row_s16_wide(const uint32_t *w, const uint32_t *x, int16_t *y, const int32_t args[7]);
/* rp_nn_depthwise3x3_row_s8's stride-1 rows in assembly (rp_nn_depthwise4_s8.c): one group of four channels whose
 * shifts are all <= -2, clamp [0, 127] (_relu) or [-128, 127] (_s8), every output pixel of a row of w >= 2 pixels
 * (wo = w). x: row 0's channel c0 at column 0 (rows 1 and 2 at x + d1, x + d2; a missing row is any present one,
 * with zero weights). rec (RP_DW4_WORDS words, 4-byte aligned): the biases; per window column kx = 0..2 the pairs
 * [w(0, kx), w(1, kx)] of channels 0..3 and the SXTB16 lanes of w(2, kx) ([c0, c2], [c1, c3]); mult, rnd of the
 * four channels, their s (rp_requantize_fast); the ring's three slots (written); then the arguments d1, d2, c
 * (bytes from one pixel to the next, in and out), delta (output pixel ox at x + (ox + 2) c + delta) and the end
 * x + w c. */
void rp_nn_depthwise4_relu(uint32_t *rec, const int8_t *x);
void rp_nn_depthwise4_s8(uint32_t *rec, const int8_t *x);
/* The record of rp_nn_depthwise4_relu/_s8 for channels [c0, c0 + 4) of dw (c channels in all), zero weights for the
 * window rows whose bit is set in missing (the arguments left to the caller); 0 when some shift is > -2. */
int rp_nn_depthwise4_pack(uint32_t *r, const rp_layer_weights *dw, int32_t c0, int32_t c, unsigned missing);
/* Every group's record (rp_nn_depthwise4_pack, no missing row) of a depthwise layer of c channels, RP_DW4_WORDS
 * apart in recs (4-byte aligned, rp_nn_depthwise4_records_bytes long): made once by a caller that runs many rows
 * (rp_mbconv_s8). Returns 0, the records unusable, when c % 4 != 0 or some shift is > -2. */
int rp_nn_depthwise4_records(uint32_t *recs, const rp_layer_weights *dw, int32_t c);
#endif /* RP_USE_DSP */

/* rp_nn_depthwise4_relu/_s8's record: its layout (above) and size, and the bytes of a layer's records
 * (rp_nn_depthwise4_records: stride 1, c a multiple of 4), in both builds as the arena is planned once for both. */
#define RP_DW4_SLOTS 34
#define RP_DW4_ARGS 52
#define RP_DW4_WORDS 57
static inline int32_t rp_nn_depthwise4_records_bytes(int32_t c, int32_t stride) {
    return stride == 1 && c >= 4 && c % 4 == 0 ? c / 4 * RP_DW4_WORDS * 4 : 0;
}

/* rp_mbconv_s8's scratch after its ring of three expanded rows: a row area of 2 half bytes, the wide form of a row
 * (rp_nn_widen_s8) of the block's input or of the depthwise output, which the depthwise writes as int8 into the
 * upper half, to be widened in place; then, with the residual add, its row. */
static inline int32_t rp_nn_mbconv_half(int32_t w, int32_t wo, int32_t c_in, int32_t hid) {
    const int32_t n = wo * hid > w * c_in ? wo * hid : w * c_in;
    return (n + 3) & ~3;
}

/* One depthwise output row from up to three input rows (NULL = outside the tensor, zero padding):
 * rows[k] is input row oy * stride + k - 1, each [w][c] int8; out [wo][c] int8.
 * The depthwise implementation (rp_depthwise3x3_s8 calls it for every row); numerics §3, bit-exact.
 * The rows may lie anywhere (e.g. the slots of a ring, in any order) but not overlap out. stride 1 or 2, w >= 1,
 * c >= 1, wo <= (w - 1) / stride + 1 (equal: the whole row).
 * DSP path (RP_USE_DSP): groups of four channels whose shifts are all <= -2, SMLAD on paired taps, weights packed
 * once per row and group; the border pixels and the rows next to a NULL one included. The last c % 4 channels,
 * groups with a shift > -2 and w < 2 take the portable path (the whole kernel without RP_USE_DSP). recs: the
 * layer's records from rp_nn_depthwise4_records (DSP build), which the rows with all three neighbours present use
 * instead of packing their own, or 0. Uses about 0.5 KB of stack (DSP) or 0.25 KB (portable). */
void rp_nn_depthwise3x3_row_s8(const rp_layer_weights *dw, const int8_t *const rows[3], int32_t w, int32_t c,
                               int32_t stride, int32_t wo, int8_t *out, uint32_t *recs);

#endif /* RP_INTERNAL_NN_CONV_H */
