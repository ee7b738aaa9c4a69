/* The kernels' one vocabulary for the Cortex-M4 DSP extension: named wrappers over its instructions (ACLE
 * intrinsics, or inline assembly where GCC 12 has no intrinsic or emits two instructions for the C idiom). Defined
 * only with RP_USE_DSP (internal/rp_config.h): every kernel keeps a portable C path beside its DSP one, which has
 * its own pair helpers here (rp_load_pair, rp_dot_pair). RP_SSAT and RP_USAT serve both paths. Lanes are listed
 * [low half, high half].
 * static inline, not RP_INLINE: GCC inlines these one-instruction helpers anyway, and forcing it changed the
 * register allocation of rp_nn_conv_s8.c's sweeps (a few more instructions). */
#ifndef RP_INTERNAL_DSP_H
#define RP_INTERNAL_DSP_H

#include <stdint.h>

#include "internal/rp_config.h"

#if RP_USE_DSP
#include <arm_acle.h>

/* Loads and stores of packed lanes. The M4 allows unaligned LDR and STR (not LDRD and STRD). */
typedef uint32_t __attribute__((aligned(1), may_alias)) rp_s8x4_t;
typedef uint32_t __attribute__((aligned(2), may_alias)) rp_q15x2_t;
typedef uint32_t __attribute__((may_alias)) rp_q15x2_a4_t;
/* Four int8 (uint8) lanes from any address in one word load. */
static inline uint32_t rp_read_s8x4(const int8_t *p) { return *(const rp_s8x4_t *)p; }
static inline uint32_t rp_read_u8x4(const uint8_t *p) { return *(const rp_s8x4_t *)p; }
/* Two int16 lanes from any 2-byte-aligned address in one word load. */
static inline uint32_t rp_read_q15x2(const int16_t *p) { return *(const rp_q15x2_t *)p; }
/* Two int16 lanes to a 4-byte-aligned address in one word store (neighbouring stores may pair into an STRD). */
static inline void rp_write_q15x2_a4(int16_t *p, uint32_t v) { *(rp_q15x2_a4_t *)(void *)p = v; }
/* Two words from a word-aligned address, then p += 2 (one LDRD; GCC 12 splits 64-bit loads into two LDRs). */
typedef struct {
    uint32_t w[2];
} rp_u32x2_t;
static inline void rp_read_u32x2_ia(const uint32_t **p, uint32_t *lo, uint32_t *hi) {
    __asm__("ldrd %0, %1, [%2], #8" : "=r"(*lo), "=r"(*hi), "+r"(*p) : "m"(*(const rp_u32x2_t *)*p));
}

/* Four int8 lanes [b0 b1 b2 b3] widened to two pairs of int16 lanes: [b0, b2] (SXTB16) and [b1, b3] (SXTB16 with
 * ROR #8, which GCC 12 cannot fold from C). A dot product that widens both operands alike needs no reordering. */
static inline uint32_t rp_sxtb16_even(uint32_t x) { return (uint32_t)__sxtb16((int32_t)x); }
static inline uint32_t rp_sxtb16_odd(uint32_t x) {
    uint32_t r;
    __asm__("sxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
/* The same for unsigned lanes: [b0, b2] and [b1, b3] zero-extended (UXTB16, UXTB16 with ROR #8). */
static inline uint32_t rp_uxtb16_even(uint32_t x) { return __uxtb16(x); }
static inline uint32_t rp_uxtb16_odd(uint32_t x) {
    uint32_t r;
    __asm__("uxtb16 %0, %1, ror #8" : "=r"(r) : "r"(x));
    return r;
}
/* Halfword packing: rp_pkhbt(a, b) = [a.lo, b.lo] and rp_pkhtb(a, b) = [a.hi, b.hi] (PKHBT, PKHTB). */
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

/* Multiply-accumulates on int16 lanes: acc + a.lo b.lo + a.hi b.hi (SMLAD; without acc SMUAD), acc + a.lo b.lo
 * (SMLABB) and acc + a.hi b.hi (SMLATT). */
static inline int32_t rp_smlad(uint32_t a, uint32_t b, int32_t acc) { return __smlad((int32_t)a, (int32_t)b, acc); }
static inline int32_t rp_smuad(uint32_t a, uint32_t b) { return __smuad((int32_t)a, (int32_t)b); }
static inline int32_t rp_smlabb(uint32_t a, uint32_t b, int32_t acc) { return __smlabb((int32_t)a, (int32_t)b, acc); }
static inline int32_t rp_smlatt(uint32_t a, uint32_t b, int32_t acc) { return __smlatt((int32_t)a, (int32_t)b, acc); }
/* acc + the high word of the int64 product a * b, i.e. acc + floor(a * b / 2^32) (SMMLA; GCC 12 has no
 * intrinsic). */
static inline int32_t rp_smmla(int32_t a, int32_t b, int32_t acc) {
    int32_t r;
    __asm__("smmla %0, %1, %2, %3" : "=r"(r) : "r"(a), "r"(b), "r"(acc));
    return r;
}

/* A kernel's assembly function (file-scope __asm__): RP_ASM_BEGIN(name) opens it in its own section (so that
 * --gc-sections drops it when unused), Thumb-2, and saves r4-r11 and lr (AAPCS: r0-r3, r12 and s0-s15 are the
 * caller's); RP_ASM_END(name) returns and closes it. The C declaration and the contract go in an internal header. */
#define RP_ASM_BEGIN(name)                                                                                         \
    "    .pushsection .text." #name ",\"ax\",%progbits\n"                                                          \
    "    .syntax unified\n"                                                                                          \
    "    .thumb\n"                                                                                                   \
    "    .align 2\n"                                                                                                 \
    "    .global " #name "\n"                                                                                        \
    "    .type " #name ", %function\n"                                                                               \
    "    .thumb_func\n" #name ":\n"                                                                                  \
    "    push {r4-r11, lr}\n"
#define RP_ASM_END(name)                                                                                           \
    "    pop {r4-r11, pc}\n"                                                                                         \
    "    .size " #name ", .-" #name "\n"                                                                             \
    "    .popsection\n"

/* A generic C path the DSP build keeps only for shapes outside its assembly (the face models never take it):
 * compiled for size, as flash is the scarcer resource there. In the portable build it is the main path: speed. */
#define RP_GENERIC_PATH __attribute__((noinline, optimize("Os")))

#else

#define RP_GENERIC_PATH __attribute__((noinline))

/* The portable paths' pair of int16 lanes: one word load (memcpy: any alignment, no aliasing question) and a dot
 * product of two such words, lo lo + hi hi. Reading both operands alike makes it independent of byte order; GCC
 * turns it into two halfword multiply-accumulates, so a pair costs one load, not two. */
static inline uint32_t rp_load_pair(const int16_t *p) {
    uint32_t x;
    __builtin_memcpy(&x, p, 4);
    return x;
}
static inline int32_t rp_dot_pair(int32_t acc, uint32_t a, uint32_t b) {
    return acc + (int16_t)a * (int16_t)b + ((int32_t)a >> 16) * ((int32_t)b >> 16);
}
#endif /* RP_USE_DSP */

/* v clamped to [-2^(bits-1), 2^(bits-1) - 1] and to [0, 2^bits - 1]; macros, as the width is an immediate. SSAT
 * and USAT belong to the base ARMv7-M instruction set, not to the DSP extension, so the portable build uses them
 * too (GCC finds them in the C clamp only while its bounds are still constants, which a large loop body loses). */
#if defined(__ARM_FEATURE_SAT) && __ARM_FEATURE_SAT
#include <arm_acle.h>
#define RP_SSAT(v, bits) __ssat((v), (bits))
#define RP_USAT(v, bits) __usat((v), (bits))
#else
static inline int32_t rp_sat_range(int32_t v, int32_t lo, int32_t hi) {
    v = v > hi ? hi : v;
    return v < lo ? lo : v;
}
#define RP_SSAT(v, bits) rp_sat_range((v), -(1 << ((bits) - 1)), (1 << ((bits) - 1)) - 1)
#define RP_USAT(v, bits) rp_sat_range((v), 0, (1 << (bits)) - 1)
#endif /* __ARM_FEATURE_SAT */

#endif /* RP_INTERNAL_DSP_H */
