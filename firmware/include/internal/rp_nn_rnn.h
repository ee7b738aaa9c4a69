/* Internals of the RNN kernels (firmware/kernels/rnn), not a kernel API: the FastGRNN cell laid out for the fast
 * path of rp_rnnpool_s8, and the Q14 nonlinearities, requantisation and state update of docs/numerics.md §4 in
 * 32-bit arithmetic. Every function here is bit-exact with harness/model/fixed_ref.py over the ranges it states.
 *
 * Why 32 bits suffice. The pre-activation is rp_requantize_fast (shift <= -2; internal/rp_requantize.h):
 * pre = (hi + rnd) >> s with hi the high word of acc * mult (|hi| <= 2^30), rnd = 2^(s-1), s = -1 - shift. Since
 * bg is an integer, pre + bg = (hi + rnd + bg 2^s) >> s exactly: the cell keeps kg = rnd + bg 2^s (and kh) and
 * gets each gate input from one SMMLA and one shift. With |kg|, |kh| < 2^30, hi + kg cannot overflow, the gate
 * inputs are the reference's own values, and the nonlinearities clamp only what the reference clamps.
 * The tables' index (pre + bg + 64) >> 7 is likewise (hi + kg) >> (s + 7) once kg also holds 64 2^s (floor of a
 * floor: floor((floor(a / 2^s) + 64) / 2^7) = floor((a + 64 2^s) / 2^(s + 7))), so the exact nonlinearities cost
 * one SMMLA, one shift, one SSAT and one load each (the shift folds into the SSAT where the gates are compiled
 * for the cell: RP_NN_GRNN16_GATES).
 * rp_nn_fastgrnn_prepare refuses a cell outside these ranges (its caller then takes the generic int64 path).
 */
#ifndef RP_INTERNAL_NN_RNN_H
#define RP_INTERNAL_NN_RNN_H

#include <stdint.h>

#include "internal/rp_nn_grnn16_asm.h" /* the cells' assembly text and RP_NN_GRNN16_GATES */
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

/* One FastGRNN step in int64 (the generic path of rp_rnnpool_s8): v = [x << x_shift | h] (n_in + n_hidden int16);
 * updates h (n_hidden int16) in place. */
void rp_nn_fastgrnn_step(const rp_fastgrnn_params *p, const int16_t *v, int16_t *h);

/* The tables of rp_tanh_q14 and rp_sigmoid_q14 (numerics §4.1), each returned at its entry i = 0 (x = 0), so that a
 * signed index i in [-1024, 1023] addresses it. */
const int16_t *rp_nn_tanh_table(void);
const int16_t *rp_nn_sigmoid_table(void);
/* The tanh table also holds RP_NN_TANH_PAD copies of its end entries below -1024 and above 1023. */
#define RP_NN_TANH_PAD 128

/* clamp(i, -1024, 1023): a table index. */
static inline int32_t rp_nn_clamp_index(int32_t i) { return RP_SSAT(i, 11); }

/* The table index of a Q14 gate input v, |v| < 2^31 - 64: clamp((v + 64) >> 7, -1024, 1023), x = v / 2^14 rounded
 * half up to the nearest 1/128 (numerics §4.1). */
static inline int32_t rp_nn_q14_index(int32_t v) { return rp_nn_clamp_index((v + 64) >> 7); }

/* table[idx(v)] for any v (rp_tanh_q14, rp_sigmoid_q14): idx depends only on clamp(v, -2^20, 2^20). */
static inline int32_t rp_nn_q14_lookup(const int16_t *table, int64_t v) {
    return table[rp_nn_q14_index((int32_t)(v < -(1 << 20) ? -(1 << 20) : (v > (1 << 20) ? 1 << 20 : v)))];
}

/* hsig_q and htanh_q for |v| < 2^31 - 2^14. */
static inline int32_t rp_nn_hard_sigmoid_i32(int32_t v) {
    const int32_t s = (v + 16384) >> 1;
    return s < 0 ? 0 : (s > 16384 ? 16384 : s);
}
static inline int32_t rp_nn_hard_tanh_i32(int32_t v) { return v < -16384 ? -16384 : (v > 16384 ? 16384 : v); }

#define RP_NN_GRNN_HARD 1   /* hsig_q / htanh_q instead of sig_q / tanh_q */
#define RP_NN_GRNN_CONVEX 2 /* zeta = 16384 and nu = 0, so coef = 16384 - z */

/* A FastGRNN cell prepared by rp_nn_fastgrnn_prepare: hidden size a multiple of 4, weights regrouped for four
 * rows at a time, the requantisation and the biases folded into kg, kh (above). */
typedef struct {
    const int16_t *w;     /* [n_hidden / 4][n_xp + n_hidden / 2][4][2]: w[b][p][r][k] = [W' | U][4 b + r][2 p + k] */
    const int32_t *b;     /* [n_hidden][2]: kg, kh; with the exact nonlinearities each also holds 64 2^s (above) */
    const int16_t *sig, *tanh; /* rp_nn_sigmoid_table(), rp_nn_tanh_table() */
    int32_t n_hidden;     /* 4 .. RP_MAX_HIDDEN, a multiple of 4 */
    int32_t n_xp;         /* input pairs: n_in rounded up to a multiple of 4, halved (W' has zero columns there) */
    int32_t x_shift;      /* pixel inputs only: 0 .. 8, so x << x_shift fits int16 */
    int32_t mult;
    int32_t s;            /* the gate shift: s (hard nonlinearities: gate inputs) or s + 7 (exact: table indices) */
    int32_t zeta, nu;
    int32_t mode;         /* RP_NN_GRNN_* */
    /* The constants of the gates' assembly, in its register order: the sigmoid table, mult, s + 7, the tanh table,
     * 8192 (the update's rounding). */
    uint32_t gate[5];
    const rp_fastgrnn_gates *seq; /* the cell's compiled sequences when they can run it (exact), else 0 */
    int32_t *frame; /* the assembly's working frame (rp_nn_grnn16_attach), or 0: the C path */
} rp_nn_grnn;

/* Order of the inputs in W' (and in the packed input vector):
 * - pixel input (int8, RNN1): channels 4g, 4g+2, 4g+1, 4g+3 for each group g of four (zero past n_in), so that
 *   the DSP build widens a word of four int8 channels with two masks (rp_nn_fastgrnn_run_s8.c);
 * - int16 input (RNN2): the natural order, n_in a multiple of 4. */
#define RP_NN_GRNN_IN_S8 0
#define RP_NN_GRNN_IN_S16 1

/* Lays out p in mem (4-byte aligned, mem_bytes long) and fills g. Returns the bytes used, or 0 when the cell is
 * outside the fast path: n_hidden not a multiple of 4, shift > -2, |kg| or |kh| >= 2^30, x_shift outside 0 .. 8
 * (pixel input) or not 0 (int16 input, which also needs n_in a multiple of 4), or mem too small. laid: mem holds
 * this p's layout already (an earlier call's, untouched since): only g is filled (a kernel called again, by rows). */
int32_t rp_nn_fastgrnn_prepare(const rp_fastgrnn_params *p, int32_t input, void *mem, int32_t mem_bytes,
                               rp_nn_grnn *g, int32_t laid);
/* Input pairs of W' for n_in inputs, and the bytes rp_nn_fastgrnn_prepare uses for p (whether or not it accepts p):
 * the regrouped weights, then the biases. */
static inline int32_t rp_nn_grnn_input_pairs(int32_t n_in) { return ((n_in + 3) >> 2) << 1; }
static inline int32_t rp_nn_fastgrnn_prepared_size(const rp_fastgrnn_params *p) {
    return 4 * p->n_hidden * (rp_nn_grnn_input_pairs(p->n_in) + p->n_hidden / 2) + 8 * p->n_hidden;
}

/* The bytes of rp_rnnpool_s8's fast path, from a 4-byte boundary, for pw patch columns: the row summaries'
 * projections [patch][pw][H2] int32, the column summaries' [patch][H2] int32, the two prepared cells. */
static inline int32_t rp_nn_rnnpool_fast_bytes(const rp_rnnpool_params *p, int32_t pw) {
    return (p->patch * pw + p->patch) * p->rnn2->n_hidden * 4 + rp_nn_fastgrnn_prepared_size(p->rnn1) +
           rp_nn_fastgrnn_prepared_size(p->rnn2);
}

/* RNN1: the cell over `steps` (>= 1) int8 pixels of n_in channels, `pitch` elements apart, from h = 0; writes the
 * final state to h (n_hidden int16, 4-byte aligned). */
void rp_nn_fastgrnn_run_s8(const rp_nn_grnn *g, const int8_t *x, int32_t n_in, int32_t steps, int32_t pitch,
                           int16_t *h);

/* proj = W x for an int16 input x (2 n_xp elements, 4-byte aligned): the input half of every step's accumulator. */
void rp_nn_fastgrnn_project(const rp_nn_grnn *g, const int16_t *x, int32_t *proj);

/* RNN2: the cell over `steps` (>= 1) inputs given by their projections proj[0..steps-1] (n_hidden int32 each),
 * from h = 0; writes the final state to h (n_hidden int16, 4-byte aligned). */
void rp_nn_fastgrnn_run_proj(const rp_nn_grnn *g, const int32_t *const *proj, int32_t steps, int16_t *h);

#if RP_USE_DSP
/* Two pairs of v and of each of four rows: 5 LDRD + 8 SMLAD (GCC 12 does not pair the loads for the Cortex-M4 by
 * itself). The first four may be SMUAD (s = product, for a sum that starts at 0) or SMLAD (s += product). */
#define RP_NN_MAC4_2PAIRS(FIRST)                                                                                     \
    "ldrd %[v0], %[v1], [%[v]], #8\n\t"                                                                              \
    "ldrd %[w0], %[w1], [%[w]], #8\n\t"                                                                              \
    "ldrd %[w2], %[w3], [%[w]], #8\n\t" FIRST(s0, w0) FIRST(s1, w1) FIRST(s2, w2) FIRST(s3, w3)                     \
    "ldrd %[w0], %[w1], [%[w]], #8\n\t"                                                                              \
    "ldrd %[w2], %[w3], [%[w]], #8\n\t"                                                                              \
    "smlad %[s0], %[w0], %[v1], %[s0]\n\t"                                                                           \
    "smlad %[s1], %[w1], %[v1], %[s1]\n\t"                                                                           \
    "smlad %[s2], %[w2], %[v1], %[s2]\n\t"                                                                           \
    "smlad %[s3], %[w3], %[v1], %[s3]"
#define RP_NN_SMUAD_V0(s, w) "smuad %[" #s "], %[" #w "], %[v0]\n\t"
#define RP_NN_SMLAD_V0(s, w) "smlad %[" #s "], %[" #w "], %[v0], %[" #s "]\n\t"
#endif /* RP_USE_DSP */

/* a0..a3 = (zero ? 0 : a0..a3) + four rows of a regrouped weight block times v (2 n_pairs int16); n_pairs even and
 * >= 2. w and v 4-byte aligned (LDRD). */
RP_INLINE void rp_nn_grnn_mac4(const int16_t *w, const int16_t *v, int32_t n_pairs, const int zero, int32_t *a0,
                                int32_t *a1, int32_t *a2, int32_t *a3) {
    int32_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    if (!zero) s0 = *a0, s1 = *a1, s2 = *a2, s3 = *a3;
#if RP_USE_DSP
    uint32_t v0, v1, w0, w1, w2, w3;
#define RP_NN_MAC4_TEMPS                                                                                           \
    [w] "+r"(w), [v] "+r"(v), [v0] "=&r"(v0), [v1] "=&r"(v1), [w0] "=&r"(w0), [w1] "=&r"(w1), [w2] "=&r"(w2),        \
        [w3] "=&r"(w3)
#define RP_NN_MAC4_MEMORY "m"(*(const int16_t(*)[16])w), "m"(*(const int16_t(*)[4])v)
    int32_t p = 0;
    if (zero) {
        __asm__(RP_NN_MAC4_2PAIRS(RP_NN_SMUAD_V0)
                : [s0] "=&r"(s0), [s1] "=&r"(s1), [s2] "=&r"(s2), [s3] "=&r"(s3), RP_NN_MAC4_TEMPS
                : RP_NN_MAC4_MEMORY);
        p = 2;
    }
#pragma GCC unroll 4
    for (; p < n_pairs; p += 2)
        __asm__(RP_NN_MAC4_2PAIRS(RP_NN_SMLAD_V0)
                : [s0] "+r"(s0), [s1] "+r"(s1), [s2] "+r"(s2), [s3] "+r"(s3), RP_NN_MAC4_TEMPS
                : RP_NN_MAC4_MEMORY);
#undef RP_NN_MAC4_TEMPS
#undef RP_NN_MAC4_MEMORY
#else
#pragma GCC unroll 8
    for (int32_t p = 0; p < n_pairs; p++, w += 8, v += 2) { /* a pair of v, and of each row, per word load */
        const uint32_t vp = rp_load_pair(v);
        s0 = rp_dot_pair(s0, rp_load_pair(w), vp);
        s1 = rp_dot_pair(s1, rp_load_pair(w + 2), vp);
        s2 = rp_dot_pair(s2, rp_load_pair(w + 4), vp);
        s3 = rp_dot_pair(s3, rp_load_pair(w + 6), vp);
    }
#endif /* RP_USE_DSP */
    *a0 = s0, *a1 = s1, *a2 = s2, *a3 = s3;
}

/* One hidden unit: acc -> gate inputs pre + bg, pre + bh (kb: kg, kh) -> z, c -> h' (numerics §4.2). In the convex case
 * z h + (16384 - z) c + 8192 = z (h - c) + 16384 c + 8192, so h' = c + ((z (h - c) + 8192) >> 14), which lies
 * between h and c (a weighted mean, rounded): no saturation. Otherwise |z h + coef c| <= 2^30 (numerics §4.2). */
RP_INLINE int32_t rp_nn_grnn_unit(const rp_nn_grnn *g, int32_t acc, const int32_t *kb, int32_t h, const int mode) {
    const int32_t zeta = g->zeta, nu = g->nu;
#if RP_USE_DSP
    const int32_t vg = rp_smmla(acc, g->mult, kb[0]) >> g->s, vh = rp_smmla(acc, g->mult, kb[1]) >> g->s;
#else
    const int32_t hi = (int32_t)(((int64_t)acc * g->mult) >> 32); /* one product for both gates */
    const int32_t vg = (hi + kb[0]) >> g->s, vh = (hi + kb[1]) >> g->s;
#endif /* RP_USE_DSP */
    int32_t z, c;
    if (mode & RP_NN_GRNN_HARD) { /* vg, vh: the gate inputs pre + bg, pre + bh */
        z = rp_nn_hard_sigmoid_i32(vg);
        c = rp_nn_hard_tanh_i32(vh);
    } else { /* vg, vh: their table indices, unclamped */
        z = g->sig[rp_nn_clamp_index(vg)];
        c = g->tanh[rp_nn_clamp_index(vh)];
    }
    if (mode & RP_NN_GRNN_CONVEX) return c + ((z * (h - c) + 8192) >> 14);
    const int32_t coef = ((zeta * (16384 - z)) >> 14) + nu;
    const int32_t r = (z * h + coef * c + 8192) >> 14;
    return RP_SSAT(r, 16);
}

/* One step, h_next = cell(x, h), for n_hidden and n_xp given as constants where the caller can (the loops then
 * unroll and every array sits at a fixed offset). The input half of the accumulators is proj (when not 0) or W' xv
 * (xv: 2 n_xp int16). first: h = 0 (the caller zeroes it), so U h is skipped. h, h_next (distinct) and xv: 4-byte
 * aligned. Each block of four rows runs its units as soon as its accumulators are made: no accumulator array, and
 * the old h stays whole for the later blocks because the new one goes to h_next (the callers swap the two). */
RP_INLINE void rp_nn_grnn_step(const rp_nn_grnn *g, const int32_t n_hidden, const int32_t n_xp, const int16_t *xv,
                               const int32_t *proj, const int16_t *h, int16_t *h_next, int first, const int mode) {
    const int16_t *w = g->w;
    const int32_t *b = g->b;
#pragma GCC unroll 1
    for (int32_t i = 0; i < n_hidden; i += 4, w += 8 * (n_xp + n_hidden / 2), b += 8) {
        int32_t a0 = 0, a1 = 0, a2 = 0, a3 = 0;
        if (proj) {
            a0 = proj[i], a1 = proj[i + 1], a2 = proj[i + 2], a3 = proj[i + 3];
        } else {
            rp_nn_grnn_mac4(w, xv, n_xp, 1, &a0, &a1, &a2, &a3);
        }
        if (!first) rp_nn_grnn_mac4(w + 8 * n_xp, h, n_hidden / 2, 0, &a0, &a1, &a2, &a3);
        h_next[i] = (int16_t)rp_nn_grnn_unit(g, a0, b, h[i], mode);
        h_next[i + 1] = (int16_t)rp_nn_grnn_unit(g, a1, b + 2, h[i + 1], mode);
        h_next[i + 2] = (int16_t)rp_nn_grnn_unit(g, a2, b + 4, h[i + 2], mode);
        h_next[i + 3] = (int16_t)rp_nn_grnn_unit(g, a3, b + 6, h[i + 3], mode);
    }
}

/* The working frame of the assembly (internal/rp_nn_grnn16_asm.h), RP_NN_GRNN16_FRAME words: the accumulators acc[16] (int32, word 0), kg
 * and kh (int32 pairs, word 16), a packed pixel (4 int16, word 48), then the state h (16 int16, word 50). One base
 * register reaches all four. */
#define RP_NN_GRNN16_FRAME 58
#define RP_NN_GRNN16_KB 16
#define RP_NN_GRNN16_X 48
#define RP_NN_GRNN16_H 50

#if RP_USE_DSP
/* The face models' cells (n_hidden 16; RNN1 n_in 4 as two input pairs, RNN2 n_in 16) in Cortex-M4 assembly
 * (rp_nn_grnn16_mac.c, rp_nn_grnn16_gates.c): the same arithmetic as rp_nn_grnn_step, with the loads as LDM and
 * every constant in a register. g: a prepared cell with n_hidden 16 (and n_xp 2 for the _s8 forms, 8 otherwise);
 * every pointer 4-byte aligned.
 * - acc = W' v (v: the two input pairs of a packed pixel) .................. rp_nn_grnn16_mac_s8_first
 * - acc = W' v[0..3] + U v[4..19] (v: a packed pixel, then h) ............... rp_nn_grnn16_mac_s8
 * - acc = init + U v (v: h) ....................................................... rp_nn_grnn16_mac_proj
 * - acc = W' v (v: 16 int16, an RNN2 input) ................................. rp_nn_grnn16_mac_project
 * - acc = init (RNN2's first step, h = 0: w and v unused) ........................ rp_nn_grnn16_mac_none */
void rp_nn_grnn16_mac_s8_first(const int16_t *w, const int16_t *v, int32_t *acc);
void rp_nn_grnn16_mac_s8(const int16_t *w, const int16_t *v, int32_t *acc);
void rp_nn_grnn16_mac_proj(const int16_t *w, const int16_t *v, int32_t *acc, const int32_t *init);
void rp_nn_grnn16_mac_project(const int16_t *w, const int16_t *v, int32_t *acc);
void rp_nn_grnn16_mac_none(const int16_t *w, const int16_t *v, int32_t *acc, const int32_t *init);
/* In a frame: h[i] = the convex, exact-nonlinearity unit of rp_nn_grnn_unit(acc[i], kb + 2 i, h[i]), i = 0..15,
 * in place (gate: rp_nn_grnn.gate). Per unit 14.5 instructions, r0 the frame, every constant in a register (r1 the
 * sigmoid table, r2 mult, r3 s + 7, r4 the tanh table, r5 8192), the accumulators two by two (r10, r9):
 *   ug = hi(acc mult) + kg, uh = ... + kh: the table indices (pre + bg + 64) >> 7 = ug >> (s + 7), likewise uh
 *        (kg, kh hold 64 2^s: above), each clamped to [-1024, 1023] by one SSAT;
 *   z  = sig table[ug], c = tanh table[uh] (numerics §4.1);
 *   h' = c + ((z (h - c) + 8192) >> 14) (the convex update of rp_nn_grnn_unit). */
void rp_nn_grnn16_gates(int32_t *frame, const uint32_t *gate);
#endif /* RP_USE_DSP */

#if RP_USE_DSP
/* The same with the hard nonlinearities (g->mode: RP_NN_GRNN_HARD | RP_NN_GRNN_CONVEX), in C. */
void rp_nn_grnn16_gates_hard(int32_t *frame, const rp_nn_grnn *g);
/* One step's gates and update in g's frame; hard: g's mode has RP_NN_GRNN_HARD (a constant where the caller's
 * loop is specialised for it). */
RP_INLINE void rp_nn_grnn16_update(const rp_nn_grnn *g, int32_t *frame, const int hard) {
    if (hard)
        rp_nn_grnn16_gates_hard(frame, g);
    else
        rp_nn_grnn16_gates(frame, g->gate);
}
#endif /* RP_USE_DSP */

/* Whether the assembly runs g (attached, rp_nn_grnn16_attach) as RNN1 over pixels of n_in channels (4, x_shift 8:
 * the packing of rp_nn_fastgrnn_run_s8), and as RNN2 (16 inputs); the callers add g->seq for its compiled
 * sequences. */
static inline int rp_nn_grnn16_runs_s8(const rp_nn_grnn *g, int32_t n_in) {
    return g->frame && n_in == 4 && g->x_shift == 8;
}
static inline int rp_nn_grnn16_runs_proj(const rp_nn_grnn *g) { return g->frame && g->n_xp == 8; }

/* Gives g the frame (RP_NN_GRNN16_FRAME words, 4-byte aligned) and copies its kg, kh there when the assembly can
 * run g: the DSP build, n_hidden 16, the convex update (exact nonlinearities in assembly, hard ones in C after the
 * assembly's multiply-accumulates); for one-index sequences each kh becomes the unit's tanh pointer
 * (RP_GRNN16_UNIT_ONE). Otherwise g keeps the C path. */
static inline void rp_nn_grnn16_attach(rp_nn_grnn *g, int32_t *frame) {
    g->frame = 0;
#if RP_USE_DSP
    if (g->n_hidden != 16 || !(g->mode & RP_NN_GRNN_CONVEX)) return;
    for (int32_t i = 0; i < 32; i++) frame[RP_NN_GRNN16_KB + i] = g->b[i];
    if (g->seq && g->seq->one_index) /* kh: the tanh table moved by -(bg - bh) / 128 = -(kg - kh) >> (s + 7) */
        for (int32_t i = 0; i < 16; i++)
            frame[RP_NN_GRNN16_KB + 2 * i + 1] =
                (int32_t)(intptr_t)(g->tanh - ((g->b[2 * i] - g->b[2 * i + 1]) >> g->s));
    g->frame = frame;
#else
    (void)frame;
#endif /* RP_USE_DSP */
}

#endif /* RP_INTERNAL_NN_RNN_H */
