/* rp_nn_conv_s8: see include/internal/rp_nn_conv.h.
 *
 * Output channels go in groups of G = 4 (one pixel at a time) or G = 2 (two pixels at a time): a group's G filters
 * (k * k * c_in weights each) are widened to int16 once, on the stack, and the group then sweeps every output pixel
 * with register accumulators. For each in-tensor row of a pixel's window the valid taps are one contiguous run of
 * input and weights, so padding costs nothing inside the loops. DSP path, per 4 weights of the run: G = 4 spends
 * 1 LDR + 2 SXTB16 on the pixel, 4 LDRD + 8 SMLAD on the weights (16 MACs); G = 2 spends 2 LDR + 4 SXTB16 on the two
 * pixels, 2 LDRD + 8 SMLAD (16 MACs). A last group with fewer channels repeats its last channel (computed twice,
 * stored twice). Filters too large for the buffer, an in_offset, a shift >= 0 or (DSP) c_in % 4 != 0 take a plain
 * loop: rp_nn_conv_acc_s8 per output, then rp_requantize_clamp. */
#include "internal/rp_nn_conv.h"
#include "internal/rp_requantize.h"

#define RP_CONV_WIDE_WORDS 1152 /* 4.5 KB of stack: groups of 4 up to k * k * c_in = 576 (3x3, c_in = 64) */
#define RP_CONV_WIDE_HALVES (2 * RP_CONV_WIDE_WORDS) /* G * k * k * c_in int16 must fit */

typedef struct {
    const int8_t *in;
    int32_t h, w, c_in, k, stride, pad, ho, wo, c_out, lo, hi;
    int32_t o[4];                        /* output channel of each lane */
    int32_t bias[4], mult[4], s[4];      /* s = -1 - shift >= 0 */
    int64_t rnd[4];                      /* 2^(30 - shift) (rp_requantize_fast64) */
    union {                              /* the group's filters widened, G * k * k * c_in int16 or less: */
        uint32_t w[RP_CONV_WIDE_WORDS];  /* DSP: per 4 weights, the [even, odd] lane pairs of lane 0, 1, ... */
        int32_t p[RP_CONV_WIDE_WORDS];   /* portable: per weight, lanes 2j and 2j + 1 as one rp_nn_pair_s8 */
    } wide;
} rp_conv_group;
#if RP_USE_DSP
/* rp_nn_conv4_row_s16 reads mult, s and rnd at these distances from bias */
_Static_assert(__builtin_offsetof(rp_conv_group, mult) - __builtin_offsetof(rp_conv_group, bias) == 16 &&
                   __builtin_offsetof(rp_conv_group, s) - __builtin_offsetof(rp_conv_group, bias) == 32 &&
                   __builtin_offsetof(rp_conv_group, rnd) - __builtin_offsetof(rp_conv_group, bias) == 48,
               "rp_conv_group: the layout rp_nn_conv4_row_s16 reads");
#endif /* RP_USE_DSP */

/* Widened weights from weight e of the filters on (e a multiple of 4 on the DSP path). */
RP_INLINE const void *wide_at(const rp_conv_group *g, int32_t e, int G) {
#if RP_USE_DSP
    return g->wide.w + (e >> 2) * 2 * G;
#else
    return g->wide.p + e * (G / 2);
#endif /* RP_USE_DSP */
}

static void widen(rp_conv_group *g, const int8_t *filter, int G) {
    const int32_t K = g->k * g->k * g->c_in;
#if RP_USE_DSP
    uint32_t *d = g->wide.w;
    for (int32_t e = 0; e < K; e += 4)
        for (int j = 0; j < G; j++, d += 2) {
            const uint32_t u = rp_read_s8x4(filter + g->o[j] * K + e);
            d[0] = rp_sxtb16_even(u), d[1] = rp_sxtb16_odd(u);
        }
#else
    int32_t *d = g->wide.p;
    for (int32_t e = 0; e < K; e++)
        for (int j = 0; j < G; j += 2) *d++ = rp_nn_pair_s8(filter[g->o[j] * K + e], filter[g->o[j + 1] * K + e]);
#endif /* RP_USE_DSP */
}

/* a[j] += dot(x[0, n), lane j) for 4 lanes. */
RP_INLINE void dot_1x4(const int8_t *x, const void *wv, int32_t n, int32_t a[4]) {
    int32_t a0 = a[0], a1 = a[1], a2 = a[2], a3 = a[3];
#if RP_USE_DSP
    const uint32_t *wp = wv;
#define RP_STEP_1x4(p)                                                                                         \
    do {                                                                                                       \
        const uint32_t pe = rp_sxtb16_even(p), po = rp_sxtb16_odd(p);                                          \
        uint32_t e, o;                                                                                         \
        rp_read_u32x2_ia(&wp, &e, &o);                                                                         \
        a0 = rp_smlad(po, o, rp_smlad(pe, e, a0));                                                             \
        rp_read_u32x2_ia(&wp, &e, &o);                                                                         \
        a1 = rp_smlad(po, o, rp_smlad(pe, e, a1));                                                             \
        rp_read_u32x2_ia(&wp, &e, &o);                                                                         \
        a2 = rp_smlad(po, o, rp_smlad(pe, e, a2));                                                             \
        rp_read_u32x2_ia(&wp, &e, &o);                                                                         \
        a3 = rp_smlad(po, o, rp_smlad(pe, e, a3));                                                             \
    } while (0)
    const int8_t *end = x + n;
    if (n & 4) {
        const uint32_t p = rp_read_s8x4(x);
        x += 4;
        RP_STEP_1x4(p);
    }
    while (x != end) { /* 8 weights per iteration */
        const uint32_t p = rp_read_s8x4(x), p2 = rp_read_s8x4(x + 4);
        x += 8;
        RP_STEP_1x4(p);
        RP_STEP_1x4(p2);
    }
#undef RP_STEP_1x4
#else
    const int32_t *w = wv;
    for (int32_t i = 0; i < n;) {
        int64_t p0 = 0, p1 = 0;
        const int32_t end = n - i > RP_NN_PAIR_RUN ? i + RP_NN_PAIR_RUN : n;
#pragma GCC unroll 4
        for (; i < end; i++, w += 2) {
            const int64_t v = x[i];
            p0 += v * w[0], p1 += v * w[1];
        }
        rp_nn_split_s8(p0, &a0, &a1);
        rp_nn_split_s8(p1, &a2, &a3);
    }
#endif /* RP_USE_DSP */
    a[0] = a0, a[1] = a1, a[2] = a2, a[3] = a3;
}

/* a[2 * i + j] += dot(pixel i, lane j) for the pixels x and x + d and 2 lanes. */
RP_INLINE void dot_2x2(const int8_t *x, int32_t d, const void *wv, int32_t n, int32_t a[4]) {
    int32_t a00 = a[0], a01 = a[1], a10 = a[2], a11 = a[3];
#if RP_USE_DSP
    const uint32_t *wp = wv;
    for (const int8_t *end = x + n; x != end;) {
        const uint32_t q = rp_read_s8x4(x + d), p = rp_read_s8x4(x);
        x += 4;
        const uint32_t pe = rp_sxtb16_even(p), po = rp_sxtb16_odd(p), qe = rp_sxtb16_even(q), qo = rp_sxtb16_odd(q);
        uint32_t e, o;
        rp_read_u32x2_ia(&wp, &e, &o);
        a00 = rp_smlad(po, o, rp_smlad(pe, e, a00));
        a10 = rp_smlad(qo, o, rp_smlad(qe, e, a10));
        rp_read_u32x2_ia(&wp, &e, &o);
        a01 = rp_smlad(po, o, rp_smlad(pe, e, a01));
        a11 = rp_smlad(qo, o, rp_smlad(qe, e, a11));
    }
#else
    const int32_t *w = wv;
    for (int32_t i = 0; i < n;) {
        int64_t p0 = 0, p1 = 0;
        const int32_t end = n - i > RP_NN_PAIR_RUN ? i + RP_NN_PAIR_RUN : n;
#pragma GCC unroll 4
        for (; i < end; i++, w++) {
            const int64_t u = x[i], v = x[i + d];
            p0 += u * w[0], p1 += v * w[0];
        }
        rp_nn_split_s8(p0, &a00, &a01);
        rp_nn_split_s8(p1, &a10, &a11);
    }
#endif /* RP_USE_DSP */
    a[0] = a00, a[1] = a01, a[2] = a10, a[3] = a11;
}

/* Valid window taps [*k0, *k1) of the output coordinate o along an axis of size n. */
RP_INLINE int32_t taps(const rp_conv_group *g, int32_t o, int32_t n, int32_t *k0, int32_t *k1) {
    const int32_t start = o * g->stride - g->pad;
    *k0 = start < 0 ? -start : 0;
    *k1 = start + g->k > n ? n - start : g->k;
    return start;
}

/* Lane j of output pixel `pixel`: clamp(rp_requantize(acc)) for shift <= -1 (rp_requantize_fast64, as the heads
 * have shift = -1). out16: 0 int8, 1 int16, 2 int16 clamped to its full range. */
RP_INLINE void store(const rp_conv_group *g, void *out, int32_t pixel, int j, int32_t acc, int out16) {
    int32_t v = rp_requantize_fast64(acc, g->mult[j], g->rnd[j], g->s[j]);
#if RP_USE_DSP
    if (out16 == 2) /* the full int16 range (the heads) */
        v = RP_SSAT(v, 16);
    else
#endif /* RP_USE_DSP */
        v = v < g->lo ? g->lo : (v > g->hi ? g->hi : v);
    if (out16)
        ((int16_t *)out)[pixel * g->c_out + g->o[j]] = (int16_t)v;
    else
        ((int8_t *)out)[pixel * g->c_out + g->o[j]] = (int8_t)v;
}

#if RP_USE_DSP
/* The interior of an output row of 3x3 windows, [lo, hi), that rp_nn_conv4_row_s16 (G = 4) or, in pairs,
 * rp_nn_conv2x2_row_s16 (G = 2) compute in one call: for int16 out over its full range (the heads), consecutive
 * lanes, whole window rows of c_in a multiple of 32. 0: none. */
typedef struct {
    int32_t lo, hi;
} rp_conv_run;

static int interior_run(const rp_conv_group *g, int G, int out16, rp_conv_run *run) {
    const int32_t last = (g->w - g->k + g->pad) / g->stride + 1;
    run->lo = (g->pad + g->stride - 1) / g->stride;
    run->hi = last < g->wo ? last : g->wo;
    if (G == 2) run->hi = run->lo + (run->hi - run->lo) / 2 * 2; /* whole pairs; a last odd pixel: sweep() */
    return out16 == 2 && g->k == 3 && 3 * g->c_in % 32 == 0 && g->o[1] == g->o[0] + 1 &&
           (G == 2 || (g->o[2] == g->o[0] + 2 && g->o[3] == g->o[0] + 3)) && run->hi > run->lo;
}

/* interiors() over a ring of widened input rows: 0 (nothing done) when the layer does not suit it. A sibling of
 * interiors(), not called from it, so that the deeper of the two frames alone sets the stack's high-water mark. */
static __attribute__((noinline)) int interiors_wide(const rp_conv_group *g, void *out, int G, uint32_t *ring) {
    rp_conv_run run;
    const int32_t c_in = g->c_in, row = g->w * c_in, n = 6 * c_in; /* n: a window row's wide bytes */
    if (!interior_run(g, G, 2, &run) || g->stride != 1 || row % 16 || ((uintptr_t)g->in & 3)) return 0;
    int32_t *const args = (int32_t *)(ring + 3 * (row / 2)); /* after the slots: not in this frame (the stack) */
    args[0] = n, args[2] = G == 4 ? 2 * c_in : 4 * c_in, args[3] = g->c_out * (G == 4 ? 2 : 4);
    args[4] = G == 4 ? run.hi - run.lo : (run.hi - run.lo) / 2, args[5] = (int32_t)(intptr_t)g->bias;
    const int32_t x_off = (run.lo - g->pad) * 2 * c_in;
    int16_t *y = (int16_t *)out + run.lo * g->c_out + g->o[0];
    int32_t made = -1; /* input rows up to `made` are widened, row r in slot r % 3 (row / 2 words each) */
    for (int32_t oy = 0; oy < g->ho; oy++, y += g->wo * g->c_out) {
        const int32_t y0 = oy - g->pad; /* stride 1: the window's top row */
        if (y0 < 0 || y0 + 3 > g->h) continue;
        if (made < y0 - 1) made = y0 - 1;
        while (made < y0 + 2) {
            made++;
            rp_nn_widen_s8(ring + made % 3 * (row / 2), g->in + made * row, row);
        }
        const int32_t s0 = y0 % 3, s1 = (y0 + 1) % 3, s2 = (y0 + 2) % 3; /* slots, row bytes of 2 row apart */
        args[1] = (s1 - s0) * 2 * row - n, args[6] = (s2 - s1) * 2 * row - n;
        const uint32_t *x = (const uint32_t *)(const void *)((const uint8_t *)(ring + s0 * (row / 2)) + x_off);
        (G == 4 ? rp_nn_conv4_row_s16_wide : rp_nn_conv2x2_row_s16_wide)(g->wide.w, x, y, args);
    }
    return 1;
}

/* The rows' interiors that sweep() left, out of line after it: its frame and this one's assembly are never on the
 * stack together (the heads' conv sets the stack high-water mark). */
static __attribute__((noinline)) void interiors(const rp_conv_group *g, void *out, int G) {
    rp_conv_run run;
    if (!interior_run(g, G, 2, &run)) return;
    const int32_t c_in = g->c_in, row = g->w * c_in, d = g->stride * c_in;
    const int32_t args[6] = {3 * c_in, row - 3 * c_in, G == 4 ? d : 2 * d, g->c_out * (G == 4 ? 2 : 4),
                             G == 4 ? run.hi - run.lo : (run.hi - run.lo) / 2, (int32_t)(intptr_t)g->bias};
    for (int32_t oy = 0; oy < g->ho; oy++) {
        int32_t ky0, ky1;
        const int32_t y0 = taps(g, oy, g->h, &ky0, &ky1);
        if (ky0 != 0 || ky1 != 3) continue;
        const int8_t *x = g->in + y0 * row + (run.lo * g->stride - g->pad) * c_in;
        int16_t *y = (int16_t *)out + (oy * g->wo + run.lo) * g->c_out + g->o[0];
        (G == 4 ? rp_nn_conv4_row_s16 : rp_nn_conv2x2_row_s16)(g->wide.w, x, y, args);
    }
}
#endif /* RP_USE_DSP */

/* Every output pixel for the group: G = 4 one pixel at a time, G = 2 two horizontal neighbours at a time when
 * their windows have the same valid taps (else a pixel pairs with itself). */
RP_INLINE void sweep(const rp_conv_group *g, void *out, int G, int out16) {
    const int32_t c_in = g->c_in, row = g->w * c_in;
#if RP_USE_DSP
    rp_conv_run run;
    const int row_asm = interior_run(g, G, out16, &run);
#endif /* RP_USE_DSP */
    for (int32_t oy = 0; oy < g->ho; oy++) {
        int32_t ky0, ky1;
        const int32_t y0 = taps(g, oy, g->h, &ky0, &ky1);
        for (int32_t ox = 0; ox < g->wo;) {
#if RP_USE_DSP
            if (row_asm && ox == run.lo && ky0 == 0 && ky1 == 3) { /* interiors(): after this sweep */
                ox = run.hi;
                continue;
            }
#endif /* RP_USE_DSP */
            int32_t kx0, kx1, kx0b = -1, kx1b = -1;
            const int32_t x0 = taps(g, ox, g->w, &kx0, &kx1);
            if (G == 2 && ox + 1 < g->wo) taps(g, ox + 1, g->w, &kx0b, &kx1b);
            const int pair = kx0b == kx0 && kx1b == kx1;
            int32_t a[4];
            for (int j = 0; j < 4; j++) a[j] = g->bias[G == 4 ? j : j & 1];
            const int32_t n = (kx1 - kx0) * c_in;
            const int8_t *x = g->in + (y0 + ky0) * row + (x0 + kx0) * c_in;
            int32_t ky = ky0;
#if RP_USE_DSP
            if (G == 4 && n == g->k * c_in && n % 32 == 0) { /* whole window rows: in assembly, weights consecutive */
                const int32_t args[3] = {n, row - n, ky1 - ky0};
                rp_nn_conv4_dot(wide_at(g, ky0 * n, 4), x, a, args);
                ky = ky1;
            } /* G = 2: the top and bottom rows in C (rp_nn_conv2x2_row_s16 takes the other rows' interiors); an
               * assembly call below this frame would raise the stack's high-water mark */
#endif /* RP_USE_DSP */
            for (; ky < ky1; ky++, x += row) {
                const void *wp = wide_at(g, (ky * g->k + kx0) * c_in, G);
                if (G == 4)
                    dot_1x4(x, wp, n, a);
                else
                    dot_2x2(x, pair ? g->stride * c_in : 0, wp, n, a);
            }
            const int32_t pixel = oy * g->wo + ox;
            store(g, out, pixel, 0, a[0], out16);
            store(g, out, pixel, 1, a[1], out16);
            if (G == 4) {
                store(g, out, pixel, 2, a[2], out16);
                store(g, out, pixel, 3, a[3], out16);
            } else if (pair) {
                store(g, out, pixel + 1, 0, a[2], out16);
                store(g, out, pixel + 1, 1, a[3], out16);
            }
            ox += G == 2 && pair ? 2 : 1;
        }
    }
}

/* sweep() per group size and output type, out of line so that its registers are allocated for it alone. */
static __attribute__((noinline)) void sweep4_s8(const rp_conv_group *g, void *out) { sweep(g, out, 4, 0); }
static __attribute__((noinline)) void sweep2_s8(const rp_conv_group *g, void *out) { sweep(g, out, 2, 0); }
static __attribute__((noinline)) void sweep4_s16(const rp_conv_group *g, void *out) { sweep(g, out, 4, 1); }
static __attribute__((noinline)) void sweep2_s16(const rp_conv_group *g, void *out) { sweep(g, out, 2, 1); }
#if RP_USE_DSP
static __attribute__((noinline)) void sweep4_s16_full(const rp_conv_group *g, void *out) { sweep(g, out, 4, 2); }
static __attribute__((noinline)) void sweep2_s16_full(const rp_conv_group *g, void *out) { sweep(g, out, 2, 2); }
#else
#define sweep4_s16_full sweep4_s16
#define sweep2_s16_full sweep2_s16
#endif /* RP_USE_DSP */

/* Any shape and in_offset, one output at a time (rp_nn_conv_acc_s8). */
static void conv_generic(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims, const int8_t *in,
                         const int8_t *filter, const int32_t *bias, const rp_dims *out_dims, void *out,
                         int32_t out_bytes) {
    const int32_t c_out = out_dims->c, fsize = p->kernel * p->kernel * in_dims->c;
    for (int32_t oy = 0, i = 0; oy < out_dims->h; oy++)
        for (int32_t ox = 0; ox < out_dims->w; ox++)
            for (int32_t o = 0; o < c_out; o++, i++) {
                const int32_t acc = bias[o] + rp_nn_conv_acc_s8(p, in_dims, in, filter + o * fsize, oy, ox);
                const int32_t v = rp_requantize_clamp(acc, q->mult[o], q->shift[o], p->act_min, p->act_max);
                if (out_bytes == 2)
                    ((int16_t *)out)[i] = (int16_t)v;
                else
                    ((int8_t *)out)[i] = (int8_t)v;
            }
}

void rp_nn_conv_s8(const rp_conv_params *p, const rp_quant_params *q, const rp_dims *in_dims, const int8_t *in,
                   const int8_t *filter, const int32_t *bias, const rp_dims *out_dims, void *out, int32_t out_bytes,
                   uint32_t *ring) {
#if !RP_USE_DSP
    (void)ring; /* the wide rows are the DSP build's */
#endif /* !RP_USE_DSP */
    const int32_t K = p->kernel * p->kernel * in_dims->c;
    int fast = p->in_offset == 0 && (!RP_USE_DSP || in_dims->c % 4 == 0) && 2 * K <= RP_CONV_WIDE_HALVES;
    for (int32_t o = 0; o < out_dims->c; o++) fast &= q->shift[o] <= -1;
    if (!fast) {
        conv_generic(p, q, in_dims, in, filter, bias, out_dims, out, out_bytes);
        return;
    }
    rp_conv_group g;
    g.in = in, g.h = in_dims->h, g.w = in_dims->w, g.c_in = in_dims->c, g.k = p->kernel, g.stride = p->stride;
    g.pad = p->kernel / 2, g.ho = out_dims->h, g.wo = out_dims->w, g.c_out = out_dims->c;
    g.lo = p->act_min, g.hi = p->act_max;
    for (int32_t o = 0; o < g.c_out;) {
        const int G = g.c_out - o >= 3 && 4 * K <= RP_CONV_WIDE_HALVES ? 4 : 2;
        for (int j = 0; j < G; j++) {
            const int32_t c = o + j < g.c_out ? o + j : g.c_out - 1;
            g.o[j] = c, g.bias[j] = bias[c], g.mult[j] = q->mult[c], g.s[j] = -1 - q->shift[c];
            g.rnd[j] = (int64_t)1 << (30 - q->shift[c]);
        }
        widen(&g, filter, G);
        if (out_bytes == 2 && g.lo == -32768 && g.hi == 32767)
        {
            (G == 4 ? sweep4_s16_full : sweep2_s16_full)(&g, out);
#if RP_USE_DSP
            if (!ring || !interiors_wide(&g, out, G, ring)) interiors(&g, out, G);
#endif /* RP_USE_DSP */
        }
        else if (out_bytes == 2)
            (G == 4 ? sweep4_s16 : sweep2_s16)(&g, out);
        else
            (G == 4 ? sweep4_s8 : sweep2_s8)(&g, out);
        o += G;
    }
}
