/* Requantisation (docs/numerics.md §2): rp_requantize, the one reference, mirrored bit for bit by
 * harness.model.qmath.requantize; and the fast paths the kernels' loops use instead, proved equal to it below. */
#ifndef RP_INTERNAL_REQUANTIZE_H
#define RP_INTERNAL_REQUANTIZE_H

#include <stdint.h>

#include "internal/rp_dsp.h"

/* round(acc * mult * 2^(shift - 31)), ties toward +inf; exact in int64 for |acc| <= 2^31. The result may exceed
 * int32 when shift > 0, so it stays int64 until the caller's clamp. */
static inline int64_t rp_requantize(int32_t acc, int32_t mult, int32_t shift) {
    const int32_t t = 31 - shift; /* 1 .. 62 */
    const int64_t p = (int64_t)acc * mult + ((int64_t)1 << (t - 1));
    return p >> t; /* arithmetic shift: floor (GCC and Clang on every target we build for) */
}

static inline int32_t rp_clamp(int64_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

/* The fast paths, for shift <= -1 (every conv layer of the face models). Let t = 31 - shift >= 32,
 * s = t - 32 = -1 - shift >= 0 and P = acc * mult (|P| <= 2^62); rp_requantize = floor((P + 2^(t-1)) / 2^t).
 * Since floor(floor(x / a) / b) = floor(x / (a b)) for integers a, b > 0,
 *   rp_requantize = floor(floor((P + 2^(t-1)) / 2^32) / 2^s):
 * the high word of the int64 P + 2^(t-1) (|P + 2^(t-1)| < 2^63), shifted right by s (rp_requantize_fast64).
 * For shift <= -2 (s in [1, 30]), 2^(t-1) = 2^(s-1) 2^32 is a multiple of 2^32, so that high word is
 * hi + 2^(s-1) with hi = floor(P / 2^32) the high word of P. |hi| <= 2^30 and 2^(s-1) <= 2^29: it fits int32, and
 *   rp_requantize = (hi + 2^(s-1)) >> s,
 * |result| <= 2^29 (rp_requantize_fast: SMMLA and ASR on the DSP path, no 64-bit arithmetic). */

/* rp_requantize(acc, mult, shift) for shift <= -2, given s = -1 - shift and rnd = 2^(s-1). */
RP_INLINE int32_t rp_requantize_fast(int32_t acc, int32_t mult, int32_t rnd, int32_t s) {
#if RP_USE_DSP
    return rp_smmla(acc, mult, rnd) >> s;
#else
    return ((int32_t)(((int64_t)acc * mult) >> 32) + rnd) >> s;
#endif /* RP_USE_DSP */
}

/* rp_requantize(acc, mult, shift) for shift <= -1, given s = -1 - shift and rnd = 2^(30 - shift): one SMLAL, for
 * loops that also take shift = -1 (the detection heads have it), which rp_requantize_fast cannot. */
RP_INLINE int32_t rp_requantize_fast64(int32_t acc, int32_t mult, int64_t rnd, int32_t s) {
    return (int32_t)(((int64_t)acc * mult + rnd) >> 32) >> s;
}

/* clamp(rp_requantize(acc, mult, shift), lo, hi) for any shift, by the fast paths where they hold. */
static inline int32_t rp_requantize_clamp(int32_t acc, int32_t mult, int32_t shift, int32_t lo, int32_t hi) {
    int32_t v;
    if (shift <= -2) {
        const int32_t s = -1 - shift;
        v = rp_requantize_fast(acc, mult, 1 << (s - 1), s);
    } else if (shift == -1) {
        v = rp_requantize_fast64(acc, mult, 0x80000000LL, 0);
    } else {
        return rp_clamp(rp_requantize(acc, mult, shift), lo, hi);
    }
    return v < lo ? lo : (v > hi ? hi : v);
}

#endif /* RP_INTERNAL_REQUANTIZE_H */
