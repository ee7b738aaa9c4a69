/* rp_nn_pointwise_s8: see include/rp_kernels.h.
 *
 * Output channels go in groups of G = 8 (or 4). A group's G weight rows are widened to int16 once, into a stack
 * buffer, and the group then sweeps every pixel with G register accumulators: per 4 input channels the DSP path
 * spends 1 LDR + 2 SXTB16 on the pixel, G LDRD + 2G SMLAD on the weights and 2 on the loop (G = 8: 32 MACs in 29
 * instructions). Requantisation is rp_requantize_fast (one SMMLA and an ASR) and a USAT / SSAT.
 * Channels left over (c_out % 4), c_in above RP_PW_MAX_CIN_4 and groups with a shift > -2 take a plain
 * one-channel loop with the exact rp_requantize. */
#include "internal/rp_requantize.h"
#include "internal/rp_nn_conv.h"
#include "rp_kernels.h"

#define RP_PW_WIDE_WORDS 512                     /* the widened-weights buffer: 2 KB of stack */
#define RP_PW_MAX_CIN_8 (RP_PW_WIDE_WORDS / 4)   /* groups of 8 up to c_in = 128 */
#define RP_PW_MAX_CIN_4 (RP_PW_WIDE_WORDS / 2)   /* groups of 4 up to c_in = 256 */
_Static_assert(RP_PW_MAX_CIN_4 <= RP_NN_PAIR_RUN, "the portable sums split once per pixel (rp_nn_split_s8)");

/* A group of G output channels. s and rnd: the arguments of rp_requantize_fast (shift <= -2). The widened rows:
 * DSP, per 4 input channels, the [even, odd] lane pairs (rp_sxtb16_even/odd) of row 0, row 1, ... (wide.w);
 * portable, per input channel, the G weights (wide.h). */
typedef struct {
    const int8_t *w;            /* row 0 of the group in the filter */
    int32_t c_in;
    struct {
        int32_t mult, rnd, s, bias;
    } q[8];
    union {
        uint32_t w[RP_PW_WIDE_WORDS];
        int16_t h[2 * RP_PW_WIDE_WORDS];
    } wide;
} rp_pw_group;

enum { RP_PW_RELU, RP_PW_S8, RP_PW_ANY }; /* clamp [0, 127], [-128, 127], [act_min, act_max] */

RP_INLINE void widen(rp_pw_group *g, int G) {
    const int32_t c_in = g->c_in;
#if RP_USE_DSP
    uint32_t *d = g->wide.w;
    for (int32_t i = 0; i + 4 <= c_in; i += 4)
        for (int k = 0; k < G; k++, d += 2) {
            const uint32_t u = rp_read_s8x4(g->w + k * c_in + i);
            d[0] = rp_sxtb16_even(u), d[1] = rp_sxtb16_odd(u);
        }
#else
    int32_t *d = (int32_t *)g->wide.w; /* per input channel, rows 2j and 2j + 1 as one int32 (rp_nn_pair_s8) */
    for (int32_t i = 0; i < c_in; i++)
        for (int k = 0; k < G; k += 2, d++) *d = rp_nn_pair_s8(g->w[k * c_in + i], g->w[(k + 1) * c_in + i]);
#endif /* RP_USE_DSP */
}

/* a[k] += dot(x, row k) for the G rows of the group. */
RP_INLINE void dot(const rp_pw_group *g, const int8_t *x, int G, int32_t a[8]) {
    const int32_t c_in = g->c_in;
    int32_t i = 0;
#if RP_USE_DSP
    const uint32_t *wp = g->wide.w;
    for (const int8_t *end = x + (c_in & ~3); x != end; x += 4) {
        const uint32_t p = rp_read_s8x4(x), pe = rp_sxtb16_even(p), po = rp_sxtb16_odd(p);
#pragma GCC unroll 8
        for (int k = 0; k < G; k++) {
            uint32_t e, o;
            rp_read_u32x2_ia(&wp, &e, &o);
            a[k] = rp_smlad(po, o, rp_smlad(pe, e, a[k]));
        }
    }
    for (i = c_in & ~3; i < c_in; i++, x++) /* the last c_in % 4 channels */
#pragma GCC unroll 8
        for (int k = 0; k < G; k++) a[k] += (int32_t)*x * g->w[k * c_in + i];
#else
    const int32_t *wp = (const int32_t *)g->wide.w;
    int64_t p[4] = {0, 0, 0, 0};
#pragma GCC unroll 4
    for (; i < c_in; i++, wp += G / 2) {
        const int64_t v = x[i];
#pragma GCC unroll 4
        for (int k = 0; k < G / 2; k++) p[k] += v * wp[k];
    }
#pragma GCC unroll 4
    for (int k = 0; k < G / 2; k++) rp_nn_split_s8(p[k], &a[2 * k], &a[2 * k + 1]);
#endif /* RP_USE_DSP */
}

RP_INLINE int32_t requantize(const rp_pw_group *g, int k, int32_t acc, int mode, int32_t lo, int32_t hi) {
    const int32_t v = rp_requantize_fast(acc, g->q[k].mult, g->q[k].rnd, g->q[k].s);
#if RP_USE_DSP
    if (mode == RP_PW_RELU) return RP_USAT(v, 7);
    if (mode == RP_PW_S8) return RP_SSAT(v, 8);
#else
    (void)mode; /* the plain clamp (with constant bounds, the compiler may still pick SSAT / USAT) */
#endif /* RP_USE_DSP */
    return v < lo ? lo : (v > hi ? hi : v);
}

RP_INLINE void pixels(const rp_pw_group *g, const int8_t *in, int32_t n_pixels, int32_t c_out, int8_t *y, int G,
                      int mode, int32_t lo, int32_t hi) {
    const int32_t c_in = g->c_in;
    for (const int8_t *end = in + n_pixels * c_in; in != end; in += c_in, y += c_out) {
        int32_t a[8];
#pragma GCC unroll 8
        for (int k = 0; k < G; k++) a[k] = g->q[k].bias;
        dot(g, in, G, a);
#pragma GCC unroll 8
        for (int k = 0; k < G; k++) y[k] = (int8_t)requantize(g, k, a[k], mode, lo, hi);
    }
}

/* pixels() for each group size and clamp, out of line so that its registers are allocated for the pixel loop
 * alone; the common clamps become a single USAT / SSAT. */
typedef void rp_pw_pixels_fn(const rp_pw_group *g, const int8_t *in, int32_t n_pixels, int32_t c_out, int8_t *y,
                             int32_t lo, int32_t hi);
#define RP_PW_PIXELS(name, G, MODE, LO, HI)                                                                      \
    static __attribute__((noinline)) void name(const rp_pw_group *g, const int8_t *in, int32_t n_pixels,          \
                                               int32_t c_out, int8_t *y, int32_t lo, int32_t hi) {               \
        (void)lo, (void)hi;                                                                                      \
        pixels(g, in, n_pixels, c_out, y, G, MODE, LO, HI);                                                      \
    }
RP_PW_PIXELS(pixels8_relu, 8, RP_PW_RELU, 0, 127)
RP_PW_PIXELS(pixels8_s8, 8, RP_PW_S8, -128, 127)
RP_PW_PIXELS(pixels8_any, 8, RP_PW_ANY, lo, hi)
RP_PW_PIXELS(pixels4_relu, 4, RP_PW_RELU, 0, 127)
RP_PW_PIXELS(pixels4_s8, 4, RP_PW_S8, -128, 127)
RP_PW_PIXELS(pixels4_any, 4, RP_PW_ANY, lo, hi)

/* Output channel o for every pixel: one channel at a time, exact requantisation. */
static void channel_exact(const rp_quant_params *q, const int8_t *in, int32_t n_pixels, int32_t c_in,
                          const int8_t *w, int32_t bias, int32_t c_out, int32_t o, int32_t lo, int32_t hi, int8_t *y) {
    for (int32_t p = 0; p < n_pixels; p++, in += c_in, y += c_out) {
        int32_t acc = bias, i = 0;
#if RP_USE_DSP
        for (; i + 4 <= c_in; i += 4) {
            const uint32_t u = rp_read_s8x4(w + i), x = rp_read_s8x4(in + i);
            acc = rp_smlad(rp_sxtb16_odd(x), rp_sxtb16_odd(u), rp_smlad(rp_sxtb16_even(x), rp_sxtb16_even(u), acc));
        }
#endif /* RP_USE_DSP */
        for (; i < c_in; i++) acc += (int32_t)in[i] * w[i];
        *y = (int8_t)rp_requantize_clamp(acc, q->mult[o], q->shift[o], lo, hi);
    }
}

void rp_nn_pointwise_s8(const rp_quant_params *q, const int8_t *in, int32_t n_pixels, int32_t c_in,
                        const int8_t *filter, const int32_t *bias, int32_t c_out, int32_t act_min, int32_t act_max,
                        int8_t *out) {
    const int mode = act_min == 0 && act_max == 127 ? RP_PW_RELU : act_min == -128 && act_max == 127 ? RP_PW_S8
                                                                                                       : RP_PW_ANY;
    rp_pw_pixels_fn *const fn8[] = {pixels8_relu, pixels8_s8, pixels8_any};
    rp_pw_pixels_fn *const fn4[] = {pixels4_relu, pixels4_s8, pixels4_any};
    rp_pw_group g;
    g.c_in = c_in;
    for (int32_t o = 0; o < c_out;) {
        const int32_t left = c_out - o;
        const int G = left >= 8 && c_in <= RP_PW_MAX_CIN_8 ? 8 : left >= 4 && c_in <= RP_PW_MAX_CIN_4 ? 4 : 1;
        int fast = G > 1;
        for (int k = 0; k < G; k++) fast &= q->shift[o + k] <= -2;
        if (!fast) { /* one channel the exact way */
            channel_exact(q, in, n_pixels, c_in, filter + o * c_in, bias[o], c_out, o, act_min, act_max, out + o);
            o++;
            continue;
        }
        g.w = filter + o * c_in;
#if RP_USE_DSP
        if (mode != RP_PW_ANY && c_in % 32 == 0 && 2 * c_in + 16 <= RP_PW_WIDE_WORDS) { /* in assembly */
            uint32_t *rec = g.wide.w, *tail = rp_nn_pointwise4_record(rec, q, filter, bias, c_in, o);
            const int32_t args[3] = {(int32_t)(intptr_t)(in + n_pixels * c_in), c_out, (int32_t)(intptr_t)tail};
            if (n_pixels > 0)
                (mode == RP_PW_RELU ? rp_nn_pointwise4_relu : rp_nn_pointwise4_s8)(rec, in, out + o, args);
            o += 4;
            continue;
        }
#endif /* RP_USE_DSP */
        for (int k = 0; k < G; k++) {
            const int32_t s = -1 - q->shift[o + k];
            g.q[k].mult = q->mult[o + k], g.q[k].rnd = 1 << (s - 1), g.q[k].s = s, g.q[k].bias = bias[o + k];
        }
        widen(&g, G);
        (G == 8 ? fn8 : fn4)[mode](&g, in, n_pixels, c_out, out + o, act_min, act_max);
        o += G;
    }
}
