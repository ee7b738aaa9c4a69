/* rp_l2norm_s8: see include/rp_kernels.h. */
#include "internal/rp_dsp.h"
#include "internal/rp_requantize.h"
#include "rp_kernels.h"

/* floor(sqrt(v)) for v <= 2^31, exact (numerics §3). With the FPU (every board's build: -mfpu=fpv4-sp-d16): the
 * single-precision root of v is within 0.005 of sqrt(v) (two roundings of 2^-24 relative, sqrt(v) < 46341), so
 * its integer part is floor(sqrt(v)) or one off, which one comparison each way corrects (no product wraps).
 * Otherwise digit by digit. */
static uint32_t isqrt(uint32_t v) {
#if defined(__ARM_FP) && (__ARM_FP & 4)
    float f = (float)v;
    __asm__("vsqrt.f32 %0, %0" : "+t"(f));
    const uint32_t r = (uint32_t)f;
    if (r * r > v) return r - 1;
    if ((r + 1) * (r + 1) <= v) return r + 1;
    return r;
#else
    uint32_t r = 0, bit = 1u << 30;
    while (bit > v) bit >>= 2;
    while (bit) {
        if (v >= r + bit) {
            v -= r + bit;
            r = (r >> 1) + bit;
        } else {
            r >>= 1;
        }
        bit >>= 2;
    }
    return r;
#endif
}

/* S = sum of x_c^2 over one pixel. */
static uint32_t sum_of_squares(const int8_t *in, int32_t c_n) {
    uint32_t s = 0;
    int32_t c = 0;
#if RP_USE_DSP
    for (; c + 8 <= c_n; c += 8) { /* [x0, x2] and [x1, x3] of each word: two SMLADs */
        const uint32_t v = rp_read_s8x4(in + c), e = rp_sxtb16_even(v), o = rp_sxtb16_odd(v);
        const uint32_t v2 = rp_read_s8x4(in + c + 4), e2 = rp_sxtb16_even(v2), o2 = rp_sxtb16_odd(v2);
        s = (uint32_t)rp_smlad(e, e, (int32_t)s);
        s = (uint32_t)rp_smlad(o, o, (int32_t)s);
        s = (uint32_t)rp_smlad(e2, e2, (int32_t)s);
        s = (uint32_t)rp_smlad(o2, o2, (int32_t)s);
    }
#endif /* RP_USE_DSP */
    for (; c < c_n; c++) s += (uint32_t)(in[c] * in[c]);
    return s;
}

#if RP_USE_DSP && defined(__ARM_FP) && (__ARM_FP & 4) /* the DSP extension and the FPU's VSQRT */
#define RP_L2_ASM 1
/* Every pixel of a layer whose channels share one shift <= -2, in assembly: k = {in, out, mult, pixels, c, rnd, s},
 * in and mult 4-byte aligned, c a positive multiple of 16. Per pixel: S by LDM, SXTB16 and SMLAD (20 instructions
 * per 16 channels); n = isqrt(S << 8) and inv = 2^24 / n as isqrt and the C loop below compute them; then per 4
 * channels one LDR of the inputs, SXTB (ROR) and ASR, 4 MUL, 2 LDRD of the multipliers, 4 SMMLA, 4 ASR, 4 SSAT,
 * 4 STRB (rp_requantize_fast, the clamp to int8). */
void rp_nn_l2norm_pixels(const int32_t *k);
#define RP_L2_SCALE4                                                                                               \
    "    ldr r7, [r0], #4\n"                                                                                         \
    "    sxtb r8, r7\n"                                                                                              \
    "    sxtb r9, r7, ror #8\n"                                                                                      \
    "    sxtb r10, r7, ror #16\n"                                                                                    \
    "    asr r7, r7, #24\n"                                                                                          \
    "    mul r8, r8, r4\n"                                                                                           \
    "    mul r9, r9, r4\n"                                                                                           \
    "    mul r10, r10, r4\n"                                                                                         \
    "    mul r7, r7, r4\n"                                                                                           \
    "    ldrd r11, r12, [r2], #8\n"                                                                                  \
    "    smmla r8, r8, r11, r5\n"                                                                                    \
    "    smmla r9, r9, r12, r5\n"                                                                                    \
    "    ldrd r11, r12, [r2], #8\n"                                                                                  \
    "    smmla r10, r10, r11, r5\n"                                                                                  \
    "    smmla r7, r7, r12, r5\n"                                                                                    \
    "    asr r8, r8, r6\n"                                                                                           \
    "    asr r9, r9, r6\n"                                                                                           \
    "    asr r10, r10, r6\n"                                                                                         \
    "    asr r7, r7, r6\n"                                                                                           \
    "    ssat r8, #8, r8\n"                                                                                          \
    "    ssat r9, #8, r9\n"                                                                                          \
    "    ssat r10, #8, r10\n"                                                                                        \
    "    ssat r7, #8, r7\n"                                                                                          \
    "    strb r8, [r1]\n"                                                                                            \
    "    strb r9, [r1, #1]\n"                                                                                        \
    "    strb r10, [r1, #2]\n"                                                                                       \
    "    strb r7, [r1, #3]\n"                                                                                        \
    "    adds r1, #4\n"
#define RP_L2_SQUARES8                                                                                             \
    "    ldm r12!, {r8, r9}\n"                                                                                       \
    "    sxtb16 r10, r8\n"                                                                                           \
    "    sxtb16 r8, r8, ror #8\n"                                                                                    \
    "    smlad r7, r10, r10, r7\n"                                                                                   \
    "    smlad r7, r8, r8, r7\n"                                                                                     \
    "    sxtb16 r10, r9\n"                                                                                           \
    "    sxtb16 r9, r9, ror #8\n"                                                                                    \
    "    smlad r7, r10, r10, r7\n"                                                                                   \
    "    smlad r7, r9, r9, r7\n"
__asm__(RP_ASM_BEGIN(rp_nn_l2norm_pixels) "    sub sp, #16\n"
        "    ldm r0, {r0-r6}\n"
        "    str r2, [sp]\n"      /* the multipliers */
        "    str r4, [sp, #4]\n"  /* c */
        "    str r3, [sp, #8]\n"  /* pixels left */
        "1:  ldr r4, [sp, #4]\n"
        "    add r3, r0, r4\n"    /* the pixel's end */
        "    mov r12, r0\n"
        "    movs r7, #0\n"
        "2:\n" RP_L2_SQUARES8 RP_L2_SQUARES8 "    cmp r12, r3\n"
        "    bne 2b\n"
        "    lsls r7, r7, #8\n"
        "    vmov s0, r7\n"
        "    vcvt.f32.u32 s0, s0\n"
        "    vsqrt.f32 s0, s0\n"
        "    vcvt.u32.f32 s0, s0\n"
        "    vmov r8, s0\n"
        "    mul r9, r8, r8\n"    /* r r > S << 8: r - 1 (isqrt) */
        "    cmp r9, r7\n"
        "    it hi\n"
        "    subhi r8, r8, #1\n"
        "    add r9, r8, #1\n"    /* (r + 1)^2 <= S << 8: r + 1 */
        "    mul r10, r9, r9\n"
        "    cmp r10, r7\n"
        "    it ls\n"
        "    movls r8, r9\n"
        "    movs r4, #0\n"       /* inv = n ? 2^24 / n : 0 */
        "    cmp r8, #0\n"
        "    beq 3f\n"
        "    mov r9, #0x1000000\n"
        "    udiv r4, r9, r8\n"
        "3:  ldr r2, [sp]\n"
        "4:\n" RP_L2_SCALE4 RP_L2_SCALE4 "    cmp r0, r3\n"
        "    bne 4b\n"
        "    ldr r7, [sp, #8]\n"
        "    subs r7, #1\n"
        "    str r7, [sp, #8]\n"
        "    bne 1b\n"
        "    add sp, #16\n" RP_ASM_END(rp_nn_l2norm_pixels));
#else
#define RP_L2_ASM 0
#endif /* RP_USE_DSP && the FPU */

rp_status rp_l2norm_s8(const rp_quant_params *q, const rp_dims *dims, const int8_t *in, int8_t *out) {
    if (dims->h < 1 || dims->w < 1 || dims->c < 1 || dims->c > (1 << 9)) return RP_ERR_ARG; /* S*256 < 2^32 */
    const int64_t pixels = (int64_t)dims->h * dims->w;
    const int32_t c_n = dims->c, *mult = q->mult, *shift = q->shift;
    /* One shift <= -2 for every channel (the face models'): the 32-bit requantisation with its s and rounding
     * constant hoisted; otherwise rp_requantize_clamp per value, which takes any shift. |x * inv| <= 128 * 2^20. */
    int same = shift[0] <= -2;
    for (int32_t c = 1; c < c_n; c++) same &= shift[c] == shift[0];
    const int32_t s = -1 - shift[0], rnd = same ? 1 << (s - 1) : 0, fours = same ? c_n & ~3 : 0;
#if RP_L2_ASM
    if (same && c_n % 16 == 0 && pixels <= INT32_MAX && (((uintptr_t)in | (uintptr_t)mult) & 3) == 0) {
        const int32_t k[7] = {(int32_t)(uintptr_t)in, (int32_t)(uintptr_t)out, (int32_t)(uintptr_t)mult,
                              (int32_t)pixels, c_n, rnd, s};
        rp_nn_l2norm_pixels(k); /* in assembly */
        return RP_OK;
    }
#endif /* RP_L2_ASM */
    for (int64_t px = 0; px < pixels; px++, in += c_n, out += c_n) {
        const uint32_t n = isqrt(sum_of_squares(in, c_n) << 8);
        const int32_t inv = n ? (int32_t)((1u << 24) / n) : 0;
        int32_t c = 0;
        for (; c < fours; c += 4) { /* the same loop as below, four values per pass */
            out[c] = (int8_t)RP_SSAT(rp_requantize_fast(in[c] * inv, mult[c], rnd, s), 8);
            out[c + 1] = (int8_t)RP_SSAT(rp_requantize_fast(in[c + 1] * inv, mult[c + 1], rnd, s), 8);
            out[c + 2] = (int8_t)RP_SSAT(rp_requantize_fast(in[c + 2] * inv, mult[c + 2], rnd, s), 8);
            out[c + 3] = (int8_t)RP_SSAT(rp_requantize_fast(in[c + 3] * inv, mult[c + 3], rnd, s), 8);
        }
        for (; c < c_n; c++)
            out[c] = (int8_t)(same ? RP_SSAT(rp_requantize_fast(in[c] * inv, mult[c], rnd, s), 8)
                                   : rp_requantize_clamp(in[c] * inv, mult[c], shift[c], -128, 127));
    }
    return RP_OK;
}
