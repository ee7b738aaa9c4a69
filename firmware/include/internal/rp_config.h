/* Build configuration derived once from the compiler: RP_USE_DSP selects the Cortex-M4 DSP-extension paths
 * (SMLAD dual 16-bit MACs). Define RP_USE_DSP=0 to force portable C on a DSP-capable core. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#ifndef RP_USE_DSP
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define RP_USE_DSP 1
#else
#define RP_USE_DSP 0
#endif
#endif

#include <stdint.h>

#include "internal/rp_requantize.h"

/* clamp(rp_requantize(acc, mult, shift), lo, hi) for the hot loops, bit-exact, without rp_requantize's 64-bit
 * variable shift when shift <= -1 (every conv layer of the face models). Let t = 31 - shift, P = acc * mult
 * (|P| <= 2^62); rp_requantize = floor((P + 2^(t-1)) / 2^t).
 * shift = -1 (t = 32): the high word of the int64 P + 2^31, |P + 2^31| < 2^63.
 * shift <= -2 (t >= 33): with s = t - 32 = -1 - shift in [1, 30], 2^(t-1) = 2^(s-1) * 2^32 and
 *   floor(floor(x / a) / b) = floor(x / (a b)) for integers a, b > 0,
 *   floor((P + 2^(t-1)) / 2^t) = floor(floor((P + 2^(s-1) 2^32) / 2^32) / 2^s) = floor((hi + 2^(s-1)) / 2^s)
 * where hi = floor(P / 2^32) is the high word of P. |hi| <= 2^30 and 2^(s-1) <= 2^29: hi + 2^(s-1) fits int32,
 * and the arithmetic shift right by s is that floor division. (The DSP kernels get hi + 2^(s-1) from one SMMLA.) */
static inline int32_t rp_requantize_clamp(int32_t acc, int32_t mult, int32_t shift, int32_t lo, int32_t hi) {
    int32_t v;
    if (shift <= -2) {
        const int32_t s = -1 - shift;
        v = ((int32_t)(((int64_t)acc * mult) >> 32) + (1 << (s - 1))) >> s;
    } else if (shift == -1) {
        v = (int32_t)(((int64_t)acc * mult + 0x80000000LL) >> 32);
    } else {
        return rp_clamp(rp_requantize(acc, mult, shift), lo, hi);
    }
    return v < lo ? lo : (v > hi ? hi : v);
}

#if RP_USE_DSP
#include <arm_acle.h>
/* Two int16 lanes from any 2-byte-aligned address in one word load (the M4 allows unaligned LDR). */
typedef uint32_t __attribute__((aligned(2), may_alias)) rp_q15x2_t;
static inline uint32_t rp_read_q15x2(const int16_t *p) { return *(const rp_q15x2_t *)p; }
/* Four int8 lanes from any address in one word load. */
typedef uint32_t __attribute__((aligned(1), may_alias)) rp_s8x4_t;
static inline uint32_t rp_read_s8x4(const int8_t *p) { return *(const rp_s8x4_t *)p; }
/* Four int8 lanes [b0 b1 b2 b3] widened to two pairs of int16 lanes: [b0, b2] (SXTB16) and [b1, b3] (SXTB16 with
 * ROR #8, which GCC 12 cannot fold from C). A dot product that widens both operands alike needs no reordering. */
static inline uint32_t rp_sxtb16_even(uint32_t x) { return (uint32_t)__sxtb16((int32_t)x); }
static inline uint32_t rp_sxtb16_odd(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
/* Two words from a word-aligned address, then p += 2 (one LDRD; GCC 12 splits 64-bit loads into two LDRs). */
typedef struct {
    uint32_t w[2];
} rp_u32x2_t;
static inline void rp_read_u32x2_ia(const uint32_t **p, uint32_t *lo, uint32_t *hi) {
    __asm__("ldrd %0, %1, [%2], #8" : "=r"(*lo), "=r"(*hi), "+r"(*p) : "m"(*(const rp_u32x2_t *)*p));
}
/* acc + high word of the int64 product a * b, i.e. acc + floor(a * b / 2^32) (SMMLA; GCC 12 has no intrinsic). */
static inline int32_t rp_smmla(int32_t a, int32_t b, int32_t acc) {
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}
/* Halfword packing (PKHBT, PKHTB; GCC 12 emits two instructions for the C idiom):
 * rp_pkhbt(a, b) = [a.lo, b.lo] and rp_pkhtb(a, b) = [a.hi, b.hi], as [low halfword, high halfword]. */
static inline uint32_t rp_pkhbt(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhbt %0, %1, %2, lsl #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
static inline uint32_t rp_pkhtb(uint32_t a, uint32_t b) {
    uint32_t r;
    __asm__("pkhtb %0, %2, %1, asr #16" : "=r"(r) : "r"(a), "r"(b));
    return r;
}
/* acc + a.lo * b.lo + a.hi * b.hi (SMLAD, int16 lanes). */
static inline int32_t rp_smlad(uint32_t a, uint32_t b, int32_t acc) { return __smlad((int32_t)a, (int32_t)b, acc); }
#endif /* RP_USE_DSP */

#endif /* RP_CONFIG_H */
