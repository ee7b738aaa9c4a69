/* rp_depthwise3x3_s8: see include/rp_kernels.h.
 *
 * Channels go in groups of four (one word per pixel). For a group, the interior output pixels (whole window inside
 * the tensor) take a fast loop; border pixels, c % 4 != 0 and shifts > -2 take the plain per-channel loop with the
 * exact rp_requantize. DSP fast loop: the nine taps become four SMLAD pairs and one single per channel: rows 0 and 1
 * of each window column pair up ([row 0, row 1] lanes: PKHBT/PKHTB of the two words, then SXTB16), columns 0 and 1
 * of row 2 pair up likewise, and the last tap goes through SMLABB/SMLATT. Per pixel and group: 9 LDR, 8 PKH,
 * 18 SXTB16, 16 SMLAD + 4 SMLAxy (36 MACs), and the weights pre-paired once per group. */
#include "rp_config.h"
#include "rp_kernels.h"

#define RP_INLINE static inline __attribute__((always_inline))

/* One group of four channels. s and rnd: the 32-bit requantisation of rp_requantize_clamp for shift <= -2,
 * v = (hi(acc * mult) + rnd) >> s. */
typedef struct {
    struct {
        int32_t mult, rnd;
    } q[4];
    int32_t s[4];
#if RP_USE_DSP
    uint32_t bias_v[4 + 16 + 2]; /* read in this order: the four biases; [w(0,kx), w(1,kx)] for kx = 0..2, then
                                  * [w(2,0), w(2,1)], each for channels 0..3; [w(2,2) of channel 0, of 2] and
                                  * [of 1, of 3] (the SXTB16 lanes of the last tap) */
#else
    int32_t bias[4];
    int32_t w[9][4];
#endif /* RP_USE_DSP */
} rp_dw_group;

enum { RP_DW_RELU, RP_DW_S8, RP_DW_ANY }; /* clamp [0, 127], [-128, 127], [act_min, act_max] */

static void pack(rp_dw_group *g, const rp_quant_params *q, const int8_t *filter, const int32_t *bias, int32_t c,
                 int32_t c_n) {
    for (int j = 0; j < 4; j++) {
        const int32_t s = -1 - q->shift[c + j];
        g->q[j].mult = q->mult[c + j], g->q[j].rnd = 1 << (s - 1), g->s[j] = s;
    }
#define W(ky, kx, j) ((int32_t)filter[((ky) * 3 + (kx)) * c_n + c + (j)])
#define PAIR(lo, hi) ((uint16_t)(lo) | (uint32_t)(hi) << 16)
#if RP_USE_DSP
    uint32_t *d = g->bias_v;
    for (int j = 0; j < 4; j++) *d++ = (uint32_t)bias[c + j];
    for (int kx = 0; kx < 4; kx++)
        for (int j = 0; j < 4; j++) *d++ = kx < 3 ? PAIR(W(0, kx, j), W(1, kx, j)) : PAIR(W(2, 0, j), W(2, 1, j));
    d[0] = PAIR(W(2, 2, 0), W(2, 2, 2)), d[1] = PAIR(W(2, 2, 1), W(2, 2, 3));
#else
    for (int j = 0; j < 4; j++) g->bias[j] = bias[c + j];
    for (int t = 0; t < 9; t++)
        for (int j = 0; j < 4; j++) g->w[t][j] = W(t / 3, t % 3, j);
#endif /* RP_USE_DSP */
#undef PAIR
#undef W
}

RP_INLINE int32_t requantize(const rp_dw_group *g, int j, int32_t acc, int mode, int32_t lo, int32_t hi) {
#if RP_USE_DSP
    const int32_t v = rp_smmla(acc, g->q[j].mult, g->q[j].rnd) >> g->s[j];
    if (mode == RP_DW_RELU) return __usat(v, 7);
    if (mode == RP_DW_S8) return __ssat(v, 8);
#else
    const int32_t v = ((int32_t)(((int64_t)acc * g->q[j].mult) >> 32) + g->q[j].rnd) >> g->s[j];
    (void)mode;
#endif /* RP_USE_DSP */
    return v < lo ? lo : (v > hi ? hi : v);
}

#if RP_USE_DSP
/* a[0..3] += the two taps [x0, x1] of channel j = 0..3 for the words x0, x1 of four channels; *v walks the paired
 * weights (two LDRD). */
RP_INLINE void pair(uint32_t x0, uint32_t x1, const uint32_t **v, int32_t a[4]) {
    const uint32_t lo = rp_pkhbt(x0, x1), hi = rp_pkhtb(x0, x1);
    uint32_t v0, v1;
    rp_read_u32x2_ia(v, &v0, &v1);
    a[0] = rp_smlad(rp_sxtb16_even(lo), v0, a[0]);
    a[1] = rp_smlad(rp_sxtb16_odd(lo), v1, a[1]);
    rp_read_u32x2_ia(v, &v0, &v1);
    a[2] = rp_smlad(rp_sxtb16_even(hi), v0, a[2]);
    a[3] = rp_smlad(rp_sxtb16_odd(hi), v1, a[3]);
}
#endif /* RP_USE_DSP */

/* One output pixel of the group to y[0..3]: tap k (row-major) is the word at r[k / 3] + (k % 3 - 1) * c_n (r: the
 * window's middle column, channel 0 of the group, in each row), holding the
 * group's four int8 channels (little-endian), or 0 when r[k / 3] is NULL or bit k % 3 of cols is clear (padding;
 * cols = 7 promises every tap inside).
 * Loads sit next to their use, to keep few words alive. */
RP_INLINE void compute(const rp_dw_group *g, const int8_t *const r[3], int32_t c_n, unsigned cols, int8_t *y,
                       int mode, int32_t lo, int32_t hi) {
#define TAP(k) \
    (cols == 7u || (r[(k) / 3] && (cols >> ((k) % 3) & 1)) ? rp_read_s8x4(r[(k) / 3] + ((k) % 3 - 1) * c_n) : 0u)
    int32_t a[4];
#if RP_USE_DSP
    const uint32_t *v = g->bias_v;
    uint32_t b0, b1;
    rp_read_u32x2_ia(&v, &b0, &b1);
    a[0] = (int32_t)b0, a[1] = (int32_t)b1;
    rp_read_u32x2_ia(&v, &b0, &b1);
    a[2] = (int32_t)b0, a[3] = (int32_t)b1;
    pair(TAP(0), TAP(3), &v, a);
    pair(TAP(1), TAP(4), &v, a);
    pair(TAP(2), TAP(5), &v, a);
    pair(TAP(6), TAP(7), &v, a);
    const uint32_t t = TAP(8), te = rp_sxtb16_even(t), to = rp_sxtb16_odd(t);
    rp_read_u32x2_ia(&v, &b0, &b1);
    a[0] = __smlabb((int32_t)te, (int32_t)b0, a[0]);
    a[2] = __smlatt((int32_t)te, (int32_t)b0, a[2]);
    a[1] = __smlabb((int32_t)to, (int32_t)b1, a[1]);
    a[3] = __smlatt((int32_t)to, (int32_t)b1, a[3]);
#else
    for (int j = 0; j < 4; j++) a[j] = g->bias[j];
    for (int k = 0; k < 9; k++) {
        if (cols != 7u && !(r[k / 3] && (cols >> (k % 3) & 1))) continue;
        const int8_t *t = r[k / 3] + (k % 3 - 1) * c_n;
        for (int j = 0; j < 4; j++) a[j] += t[j] * g->w[k][j];
    }
#endif /* RP_USE_DSP */
#undef TAP
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) y[j] = (int8_t)requantize(g, j, a[j], mode, lo, hi);
}

/* n interior output pixels of one output row (whole window inside the tensor): the first window's top-left tap
 * (channel 0 of the group) is at x, the next window sx bytes further; y steps c_n bytes per output pixel. */
RP_INLINE void interior(const rp_dw_group *g, const int8_t *x, int32_t row, int32_t c_n, int32_t sx, int8_t *y,
                        int32_t n, int mode, int32_t lo, int32_t hi) {
    for (int8_t *end = y + n * c_n; y != end; y += c_n, x += sx) {
        const int8_t *const r[3] = {x + c_n, x + c_n + row, x + c_n + 2 * row};
        compute(g, r, c_n, 7, y, mode, lo, hi);
    }
}

/* interior() per clamp, out of line so that its registers are allocated for it alone. On the DSP path GCC's first
 * scheduling pass is off there: it hoists the tap loads, then spills (26 more instructions per pixel and group). */
#if RP_USE_DSP
#define RP_DW_FAST_FN __attribute__((noinline, optimize("no-schedule-insns")))
#else
#define RP_DW_FAST_FN __attribute__((noinline))
#endif /* RP_USE_DSP */
typedef void rp_dw_interior_fn(const rp_dw_group *g, const int8_t *x, int32_t row, int32_t c_n, int32_t sx,
                               int8_t *y, int32_t n, int32_t lo, int32_t hi);
#define RP_DW_INTERIOR(name, MODE, LO, HI)                                                                       \
    static RP_DW_FAST_FN void name(const rp_dw_group *g, const int8_t *x, int32_t row, int32_t c_n, int32_t sx,   \
                                   int8_t *y, int32_t n, int32_t lo, int32_t hi) {                               \
        (void)lo, (void)hi;                                                                                      \
        interior(g, x, row, c_n, sx, y, n, MODE, LO, HI);                                                        \
    }
RP_DW_INTERIOR(interior_relu, RP_DW_RELU, 0, 127)
RP_DW_INTERIOR(interior_s8, RP_DW_S8, -128, 127)
RP_DW_INTERIOR(interior_any, RP_DW_ANY, lo, hi)

/* Output pixels [ox0, ox1) of output row oy for the group starting at channel c, any position: padded taps read
 * as 0 (the window's rows and columns outside the tensor are masked). */
static void edge(const rp_dw_group *g, const rp_dims *in_dims, const int8_t *in, int32_t s, int32_t oy, int32_t ox0,
                 int32_t ox1, int32_t c, int32_t lo, int32_t hi, int8_t *out) {
    const int32_t w = in_dims->w, c_n = in_dims->c, row = w * c_n, y0 = oy * s - 1;
    const int8_t *rows[3];
    for (int k = 0; k < 3; k++) rows[k] = y0 + k >= 0 && y0 + k < in_dims->h ? in + (y0 + k) * row + c : 0;
    for (int32_t ox = ox0; ox < ox1; ox++) {
        const int32_t x0 = ox * s - 1;
        const unsigned cols = (x0 >= 0 ? 1u : 0u) | 2u | (x0 + 2 < w ? 4u : 0u) | 8u; /* the middle tap is inside */
        const int8_t *r[3];
        for (int k = 0; k < 3; k++) r[k] = rows[k] ? rows[k] + (x0 + 1) * c_n : 0;
        compute(g, r, c_n, cols, out + ox * c_n + c, RP_DW_ANY, lo, hi);
    }
}

/* Output pixel (oy, ox), channels [c0, c1), any position and parameters. */
static void pixel_exact(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims, const int8_t *in,
                        const int8_t *filter, const int32_t *bias, int32_t oy, int32_t ox, int32_t c0, int32_t c1,
                        int8_t *y) {
    const int32_t c_n = in_dims->c, s = p->stride;
    y += ox * c_n;
    for (int32_t c = c0; c < c1; c++) {
        int32_t acc = bias[c];
        for (int32_t ky = 0; ky < 3; ky++) {
            const int32_t yy = oy * s + ky - 1;
            if (yy < 0 || yy >= in_dims->h) continue;
            for (int32_t kx = 0; kx < 3; kx++) {
                const int32_t xx = ox * s + kx - 1;
                if (xx < 0 || xx >= in_dims->w) continue;
                acc += (int32_t)in[((int64_t)yy * in_dims->w + xx) * c_n + c] * filter[(ky * 3 + kx) * c_n + c];
            }
        }
        y[c] = (int8_t)rp_requantize_clamp(acc, q->mult[c], q->shift[c], p->act_min, p->act_max);
    }
}

rp_status rp_depthwise3x3_s8(const rp_conv_params *p, const rp_quant_params *q,
                             const rp_dims *in_dims, const int8_t *in,
                             const int8_t *filter, const int32_t *bias,
                             const rp_dims *out_dims, int8_t *out) {
    const rp_dims filter_dims = {3, 3, in_dims->c};
    if (p->kernel != 3 || p->in_offset != 0 || out_dims->c != in_dims->c ||
        !rp_nn_conv_dims_ok(p, in_dims, &filter_dims, out_dims))
        return RP_ERR_ARG;
    const int32_t c_n = in_dims->c, s = p->stride, w = in_dims->w, ho = out_dims->h, wo = out_dims->w;
    /* interior outputs: the window [o * s - 1, o * s + 1] inside [0, n) <=> 1 <= o <= (n - 2) / s */
    const int32_t y1 = in_dims->h >= 2 ? (in_dims->h - 2) / s + 1 : 1, x1 = w >= 2 ? (w - 2) / s + 1 : 1;
    rp_dw_interior_fn *fast = p->act_min == 0 && p->act_max == 127      ? interior_relu
                              : p->act_min == -128 && p->act_max == 127 ? interior_s8
                                                                        : interior_any;
    rp_dw_group g;
    for (int32_t c = 0; c < c_n; c += 4) {
        int32_t c1 = c + 4 <= c_n ? c + 4 : c_n, ok = c1 == c + 4;
        for (int32_t j = c; j < c1; j++) ok &= q->shift[j] <= -2;
        if (ok) pack(&g, q, filter, bias, c, c_n);
        for (int32_t oy = 0; oy < ho; oy++) {
            int8_t *y = out + (int64_t)oy * wo * c_n;
            if (!ok) {
                for (int32_t ox = 0; ox < wo; ox++) pixel_exact(p, q, in_dims, in, filter, bias, oy, ox, c, c1, y);
            } else if (oy >= 1 && oy < y1 && x1 > 1) { /* border, interior run [1, x1), border */
                edge(&g, in_dims, in, s, oy, 0, 1, c, p->act_min, p->act_max, y);
                const int8_t *x = in + ((int64_t)(oy * s - 1) * w + (s - 1)) * c_n + c;
                fast(&g, x, w * c_n, c_n, s * c_n, y + c_n + c, x1 - 1, p->act_min, p->act_max);
                edge(&g, in_dims, in, s, oy, x1, wo, c, p->act_min, p->act_max, y);
            } else {
                edge(&g, in_dims, in, s, oy, 0, wo, c, p->act_min, p->act_max, y);
            }
        }
    }
    return RP_OK;
}
