/* rp_nn_depthwise3x3_row_s8: see include/rp_mbconv.h.
 *
 * The depthwise 3x3 implementation; rp_depthwise3x3_s8 is a loop over output rows calling it.
 *
 * Portable C (channels()): per output pixel, the list of its taps inside the tensor, then the channels in groups
 * of four accumulators over that list, and rp_requantize_clamp. It is the whole kernel without RP_USE_DSP and the
 * exact fallback of the DSP path.
 *
 * DSP path: channels go in groups of four (one word per pixel). Each group's requantisation and paired weights are
 * packed once per row into a 136-byte record on the stack (about 150 instructions, against about 107 per output
 * pixel). A missing row (NULL) gets zero weights there and reads a present row instead, so the rows next to the
 * padding run the same loops as the others. Output pixels 1 .. x1 - 1 (window columns all inside) take the fast
 * loop; pixel 0, and the last pixel when its window passes the right edge, take the same arithmetic with those
 * taps read as 0. The last c % 4 channels, groups with some shift > -2 and rows narrower than 2 take channels().
 * In the fast loop the nine taps become four SMLAD pairs and one single per channel: rows 0 and 1 of each window
 * column pair up ([row 0, row 1] lanes: PKHBT/PKHTB of the two words, then SXTB16), columns 0 and 1 of row 2 pair
 * up likewise, and the last tap goes through SMLABB/SMLATT; the filter words are paired by the same PKH and SXTB16
 * when packed. Per pixel and group: 9 LDR, 8 PKH, 18 SXTB16, 16 SMLAD + 4 SMLAxy (36 MACs), 11 LDRD of the record
 * at fixed offsets, and rp_requantize_fast (SMMLA, ASR) with a USAT/SSAT. */
#include "internal/rp_requantize.h"
#include "internal/rp_nn_conv.h"
#include "rp_mbconv.h"

/* Channels [c0, c1) of the wo output pixels, any shapes and parameters. Out of line: inlined, its loops get a worse
 * register allocation (about 40% more instructions). */
static __attribute__((noinline)) void channels(const rp_layer_weights *dw, const int8_t *const rows[3], int32_t w,
                                               int32_t c, int32_t stride, int32_t wo, int32_t c0, int32_t c1,
                                               int8_t *out) {
    const int32_t lo = dw->act_min, hi = dw->act_max;
    for (int32_t ox = 0; ox < wo; ox++, out += c) {
        const int8_t *px[9], *wt[9];
        int32_t n = 0;
        const int32_t x0 = ox * stride - 1;
        for (int32_t ky = 0; ky < 3; ky++) {
            if (!rows[ky]) continue;
            for (int32_t kx = 0; kx < 3; kx++) {
                const int32_t x = x0 + kx;
                if (x < 0 || x >= w) continue;
                px[n] = rows[ky] + x * c;
                wt[n++] = dw->w + (ky * 3 + kx) * c;
            }
        }
        int32_t i = c0;
        for (; i + 3 < c1; i += 4) {
            int32_t a0 = dw->bias[i], a1 = dw->bias[i + 1], a2 = dw->bias[i + 2], a3 = dw->bias[i + 3];
            for (int32_t t = 0; t < n; t++) {
                const int8_t *p = px[t] + i, *k = wt[t] + i;
                a0 += p[0] * k[0];
                a1 += p[1] * k[1];
                a2 += p[2] * k[2];
                a3 += p[3] * k[3];
            }
            const int32_t acc[4] = {a0, a1, a2, a3};
            for (int32_t j = 0; j < 4; j++)
                out[i + j] = (int8_t)rp_requantize_clamp(acc[j], dw->q.mult[i + j], dw->q.shift[i + j], lo, hi);
        }
        for (; i < c1; i++) {
            int32_t a = dw->bias[i];
            for (int32_t t = 0; t < n; t++) a += px[t][i] * wt[t][i];
            out[i] = (int8_t)rp_requantize_clamp(a, dw->q.mult[i], dw->q.shift[i], lo, hi);
        }
    }
}

#if RP_USE_DSP
/* One group of four channels, packed for one row. s and rnd: the arguments of rp_requantize_fast (shift <= -2). */
typedef struct {
    struct {
        int32_t mult, rnd;
    } q[4];
    int32_t s[4];
    uint32_t bias_v[4 + 16 + 2]; /* read in this order: the four biases; [w(0,kx), w(1,kx)] for kx = 0..2, then
                                  * [w(2,0), w(2,1)], each for channels 0..3; [w(2,2) of channel 0, of 2] and
                                  * [of 1, of 3] (the SXTB16 lanes of the last tap) */
} rp_dw_group;

#define RP_DW_V 48 /* offsetof(rp_dw_group, bias_v) */
_Static_assert(__builtin_offsetof(rp_dw_group, bias_v) == RP_DW_V, "RP_DW_V is the offset of bias_v");

enum { RP_DW_RELU, RP_DW_S8, RP_DW_ANY }; /* clamp [0, 127], [-128, 127], [act_min, act_max] */

/* Packs channels [c0, c0 + 4) of dw (c channels in all), with zero weights for the window rows whose bit is set in
 * missing, when their shifts are all <= -2; returns 0 (and packs nothing) otherwise. */
static int pack(rp_dw_group *g, const rp_layer_weights *dw, int32_t c0, int32_t c, unsigned missing) {
    const int32_t *mult = dw->q.mult + c0, *shift = dw->q.shift + c0, *bias = dw->bias + c0;
    const int8_t *f = dw->w + c0;
    int32_t below = 0; /* negative when some shift is > -2 */
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) below |= -2 - shift[j];
    if (below < 0) return 0;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) {
        const int32_t s = -1 - shift[j];
        g->q[j].mult = mult[j], g->q[j].rnd = 1 << (s - 1), g->s[j] = s;
    }
    /* the filter words [w(ky,kx) of channels 0..3], paired and widened exactly like the input taps */
#define WORD(t) rp_read_s8x4(f + (t) * c)
    uint32_t *d = g->bias_v;
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) d[j] = (uint32_t)bias[j];
#pragma GCC unroll 4
    for (int k = 0; k < 4; k++) { /* taps (0,kx) and (1,kx) for kx = 0..2, then (2,0) and (2,1) */
        const uint32_t a = WORD(k < 3 ? k : 6), b = WORD(k < 3 ? k + 3 : 7);
        const uint32_t lo = rp_pkhbt(a, b), hi = rp_pkhtb(a, b);
        d[4 + 4 * k] = rp_sxtb16_even(lo), d[5 + 4 * k] = rp_sxtb16_odd(lo);
        d[6 + 4 * k] = rp_sxtb16_even(hi), d[7 + 4 * k] = rp_sxtb16_odd(hi);
    }
    const uint32_t t = WORD(8);
    d[20] = rp_sxtb16_even(t), d[21] = rp_sxtb16_odd(t);
#undef WORD
    if (missing) { /* rows 0 and 1 are the low and high lanes of d[4 .. 15], row 2 all of d[16 .. 21] */
        const uint32_t keep = (missing & 1u ? 0u : 0xFFFFu) | (missing & 2u ? 0u : 0xFFFF0000u);
        for (int i = 4; i < 16; i++) d[i] &= keep;
        if (missing & 4u)
            for (int i = 16; i < 22; i++) d[i] = 0;
    }
    return 1;
}

/* lo, hi = the two words at the constant byte offset off of the group g: one LDRD at a fixed offset, so that no
 * pointer walks the weights (GCC 12 does not pair the two loads itself). */
#define RP_DW_LDRD(g, off, lo, hi) \
    __asm__("ldrd %0, %1, [%2, #%c3]" : "=r"(lo), "=r"(hi) : "r"(g), "i"(off), "m"(*(g)))

/* a[0..3] += the two taps [x0, x1] of channel j = 0..3 for the words x0, x1 of four channels, with the paired
 * weights g->bias_v[i .. i + 3] (i a constant). */
#define RP_DW_PAIR(g, x0, x1, i, a)                                    \
    do {                                                               \
        const uint32_t lo_ = rp_pkhbt(x0, x1), hi_ = rp_pkhtb(x0, x1); \
        uint32_t v0_, v1_;                                             \
        RP_DW_LDRD(g, RP_DW_V + 4 * (i), v0_, v1_);                    \
        a[0] = rp_smlad(rp_sxtb16_even(lo_), v0_, a[0]);               \
        a[1] = rp_smlad(rp_sxtb16_odd(lo_), v1_, a[1]);                \
        RP_DW_LDRD(g, RP_DW_V + 4 * (i) + 8, v0_, v1_);                \
        a[2] = rp_smlad(rp_sxtb16_even(hi_), v0_, a[2]);               \
        a[3] = rp_smlad(rp_sxtb16_odd(hi_), v1_, a[3]);                \
    } while (0)

RP_INLINE int32_t requantize(const rp_dw_group *g, int j, int32_t acc, int mode, int32_t lo, int32_t hi) {
    const int32_t v = rp_requantize_fast(acc, g->q[j].mult, g->q[j].rnd, g->s[j]);
    if (mode == RP_DW_RELU) return RP_USAT(v, 7);
    if (mode == RP_DW_S8) return RP_SSAT(v, 8);
    return v < lo ? lo : (v > hi ? hi : v);
}

/* One output pixel of the group to y[0..3]: tap k (row-major) is the word at r[k / 3] + (k % 3 - 1) * c (r: the
 * window's middle column, channel 0 of the group, in each row) holding the group's four int8 channels, or 0 when
 * bit k % 3 of cols (a constant) is clear. Loads sit next to their use, to keep few words alive. */
RP_INLINE void compute(const rp_dw_group *g, const int8_t *const r[3], int32_t c, unsigned cols, int8_t *y, int mode,
                       int32_t lo, int32_t hi) {
#define TAP(k) (cols >> ((k) % 3) & 1u ? rp_read_s8x4(r[(k) / 3] + ((k) % 3 - 1) * c) : 0u)
    int32_t a[4];
    uint32_t b0, b1;
    RP_DW_LDRD(g, RP_DW_V, b0, b1);
    a[0] = (int32_t)b0, a[1] = (int32_t)b1;
    RP_DW_LDRD(g, RP_DW_V + 8, b0, b1);
    a[2] = (int32_t)b0, a[3] = (int32_t)b1;
    RP_DW_PAIR(g, TAP(0), TAP(3), 4, a);
    RP_DW_PAIR(g, TAP(1), TAP(4), 8, a);
    RP_DW_PAIR(g, TAP(2), TAP(5), 12, a);
    RP_DW_PAIR(g, TAP(6), TAP(7), 16, a);
    const uint32_t t = TAP(8), te = rp_sxtb16_even(t), to = rp_sxtb16_odd(t);
    RP_DW_LDRD(g, RP_DW_V + 80, b0, b1);
    a[0] = rp_smlabb(te, b0, a[0]);
    a[2] = rp_smlatt(te, b0, a[2]);
    a[1] = rp_smlabb(to, b1, a[1]);
    a[3] = rp_smlatt(to, b1, a[3]);
#undef TAP
#pragma GCC unroll 4
    for (int j = 0; j < 4; j++) y[j] = (int8_t)requantize(g, j, a[j], mode, lo, hi);
}

/* GCC's first scheduling pass is off in the out-of-line loops: it hoists the tap loads, then spills (about 40 more
 * instructions per pixel and group in interior()). */
#define RP_DW_FAST_FN __attribute__((noinline, optimize("no-schedule-insns")))

/* n output pixels whose window columns are all inside: the first window's top-left taps (channel 0 of the group)
 * are at r0, r1, r2 in the three rows, the next window sx bytes further; y steps c bytes per output pixel. One
 * pointer walks and the other rows are at fixed distances from it (fewer live registers than three pointers; the
 * distances assume a flat address space, as on every target). */
RP_INLINE void interior(const rp_dw_group *g, const int8_t *r0, const int8_t *r1, const int8_t *r2, int32_t c,
                        int32_t sx, int8_t *y, int32_t n, int mode, int32_t lo, int32_t hi) {
    const intptr_t d1 = (intptr_t)((uintptr_t)r1 - (uintptr_t)r0), d2 = (intptr_t)((uintptr_t)r2 - (uintptr_t)r0);
    for (int8_t *end = y + n * c; y != end; y += c, r0 += sx) {
        const int8_t *const r[3] = {r0 + c, r0 + c + d1, r0 + c + d2};
        compute(g, r, c, 7u, y, mode, lo, hi);
    }
}

/* interior() per clamp, out of line so that its registers are allocated for it alone. */
typedef void rp_dw_interior_fn(const rp_dw_group *g, const int8_t *r0, const int8_t *r1, const int8_t *r2,
                               int32_t c, int32_t sx, int8_t *y, int32_t n, int32_t lo, int32_t hi);
#define RP_DW_INTERIOR(name, MODE, LO, HI)                                                                       \
    static RP_DW_FAST_FN void name(const rp_dw_group *g, const int8_t *r0, const int8_t *r1, const int8_t *r2,    \
                                   int32_t c, int32_t sx, int8_t *y, int32_t n, int32_t lo, int32_t hi) {        \
        (void)lo, (void)hi;                                                                                      \
        interior(g, r0, r1, r2, c, sx, y, n, MODE, LO, HI);                                                      \
    }
RP_DW_INTERIOR(interior_relu, RP_DW_RELU, 0, 127)
RP_DW_INTERIOR(interior_s8, RP_DW_S8, -128, 127)
RP_DW_INTERIOR(interior_any, RP_DW_ANY, lo, hi)

/* The border pixels of the group (r: the three rows at channel 0 of the group; w >= 2): output pixel 0 (window
 * columns -1..1, the first outside) and, when x1 < wo, pixel x1 (window columns w - 2..w, the last outside). */
static RP_DW_FAST_FN void edges(const rp_dw_group *g, const int8_t *const r[3], int32_t c, int32_t stride,
                                int32_t x1, int32_t wo, int32_t lo, int32_t hi, int8_t *out) {
    compute(g, r, c, 6u, out, RP_DW_ANY, lo, hi);
    if (x1 < wo) {
        const int32_t x = x1 * stride * c;
        const int8_t *const m[3] = {r[0] + x, r[1] + x, r[2] + x};
        compute(g, m, c, 3u, out + x1 * c, RP_DW_ANY, lo, hi);
    }
}
#endif /* RP_USE_DSP */

void rp_nn_depthwise3x3_row_s8(const rp_layer_weights *dw, const int8_t *const rows[3], int32_t w, int32_t c,
                               int32_t stride, int32_t wo, int8_t *out, uint32_t *recs) {
#if RP_USE_DSP
    const int32_t lo = dw->act_min, hi = dw->act_max;
    /* a missing row reads a present one, with zero weights (none present: channels() throughout) */
    const int8_t *const any = rows[1] ? rows[1] : rows[0] ? rows[0] : rows[2];
    const unsigned missing = (rows[0] ? 0u : 1u) | (rows[1] ? 0u : 2u) | (rows[2] ? 0u : 4u);
    /* window columns [ox * s - 1, ox * s + 1] inside [0, w) <=> 1 <= ox <= (w - 2) / s: the run [1, x1) */
    int32_t x1 = (w - 2) / stride + 1;
    if (x1 > wo) x1 = wo;
    rp_dw_interior_fn *fast = lo == 0 && hi == 127 ? interior_relu : lo == -128 && hi == 127 ? interior_s8
                                                                                             : interior_any;
    rp_dw_group g;
    uint32_t rec[RP_DW4_WORDS];
    const int asm4 = stride == 1 && wo == w && w >= 2 && any && fast != interior_any;
    for (int32_t c0 = 0; c0 < c; c0 += 4) {
        const int32_t c1 = c0 + 4 <= c ? c0 + 4 : c;
        uint32_t *made = recs && !missing ? recs + (c0 / 4) * RP_DW4_WORDS : rec; /* the layer's, made once */
        if (asm4 && c1 == c0 + 4 && (made != rec || rp_nn_depthwise4_pack(rec, dw, c0, c, missing))) {
            /* the whole row in assembly */
            const int8_t *r0 = (rows[0] ? rows[0] : any) + c0;
            uint32_t *arg = made + RP_DW4_ARGS;
            const uintptr_t at = (uintptr_t)r0; /* distances between the rows and to out: a flat address space */
            arg[0] = (uint32_t)((uintptr_t)((rows[1] ? rows[1] : any) + c0) - at);
            arg[1] = (uint32_t)((uintptr_t)((rows[2] ? rows[2] : any) + c0) - at);
            arg[2] = (uint32_t)c, arg[3] = (uint32_t)((uintptr_t)(out + c0) - at - 2u * (uint32_t)c);
            arg[4] = (uint32_t)(at + (uint32_t)(w * c));
            (fast == interior_relu ? rp_nn_depthwise4_relu : rp_nn_depthwise4_s8)(made, r0);
            continue;
        }
        if (!any || w < 2 || wo < 1 || c1 < c0 + 4 || !pack(&g, dw, c0, c, missing)) {
            channels(dw, rows, w, c, stride, wo, c0, c1, out);
            continue;
        }
        const int8_t *r[3];
        for (int k = 0; k < 3; k++) r[k] = (rows[k] ? rows[k] : any) + c0;
        edges(&g, r, c, stride, x1, wo, lo, hi, out + c0);
        if (x1 > 1) {
            const int32_t x = (stride - 1) * c; /* output pixel 1's top-left tap */
            fast(&g, r[0] + x, r[1] + x, r[2] + x, c, stride * c, out + c + c0, x1 - 1, lo, hi);
        }
    }
#else
    (void)recs;
    channels(dw, rows, w, c, stride, wo, 0, c, out);
#endif /* RP_USE_DSP */
}
