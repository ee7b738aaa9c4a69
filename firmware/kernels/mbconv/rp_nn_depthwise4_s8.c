/* rp_nn_depthwise4_relu, rp_nn_depthwise4_s8: see include/internal/rp_nn_conv.h. One macro set, two clamps.
 *
 * Each input column of the group (three rows, four channels: three words) is widened once, into the six words
 * [r2 c0, r2 c2], [r2 c1, r2 c3] (SXTB16 of row 2) and, per channel, [r0 c, r1 c] (PKHBT/PKHTB of rows 0 and 1,
 * then SXTB16), and kept in a ring of three slots in the record: an output pixel takes its newest column from the
 * registers and the two before from the ring. Per column of the window: 4 SMLAD for rows 0 and 1, 4 SMLABB/SMLATT
 * for row 2, 3 LDRD of weights; per output pixel about 77 instructions for 36 MACs. The loop is unrolled three
 * times, so that each slot has a fixed place; the last pixel's window passes the right edge and takes only two
 * columns (a tail per exit). */
#include "internal/rp_config.h"
#include "internal/rp_dsp.h"
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
_Static_assert(RP_DW4_SLOTS == 34 && RP_DW4_ARGS == 52, "rp_nn_depthwise4_s8.c: record layout");

/* Widens the column at r1 (row 0; rows 1 and 2 at r1 + d1, r1 + d2) into r2, r3, r8-r11 and ring slot N, and
 * moves r1 to the next column. */
#define RP_DW4_WIDEN(N)                                                                                            \
    "    ldrd r2, r3, [r0, #4 * 52]\n"                                                                               \
    "    ldr r8, [r1]\n"                                                                                             \
    "    ldr r9, [r1, r2]\n"                                                                                         \
    "    ldr r10, [r1, r3]\n"                                                                                        \
    "    ldr r12, [r0, #4 * 54]\n"                                                                                   \
    "    add r1, r1, r12\n"                                                                                          \
    "    pkhbt r11, r8, r9, lsl #16\n"                                                                               \
    "    pkhtb r12, r9, r8, asr #16\n"                                                                               \
    "    sxtb16 r2, r10\n"                                                                                           \
    "    sxtb16 r3, r10, ror #8\n"                                                                                   \
    "    sxtb16 r8, r11\n"                                                                                           \
    "    sxtb16 r9, r11, ror #8\n"                                                                                   \
    "    sxtb16 r10, r12\n"                                                                                          \
    "    sxtb16 r11, r12, ror #8\n"                                                                                  \
    "    add r12, r0, #4 * (34 + 6 * " #N ")\n"                                                                      \
    "    stm r12, {r2, r3, r8-r11}\n"

/* A column in ring slot N back into r2, r3, r8-r11. */
#define RP_DW4_LOAD(N)                                                                                             \
    "    add r12, r0, #4 * (34 + 6 * " #N ")\n"                                                                      \
    "    ldm r12, {r2, r3, r8-r11}\n"

/* r4-r7 += the column in r2, r3, r8-r11 times the window column KX of the weights. */
#define RP_DW4_MAC(KX)                                                                                             \
    "    ldrd r12, lr, [r0, #4 * (4 + 6 * " #KX ")]\n"                                                               \
    "    smlad r4, r8, r12, r4\n"                                                                                    \
    "    smlad r5, r9, lr, r5\n"                                                                                     \
    "    ldrd r12, lr, [r0, #4 * (6 + 6 * " #KX ")]\n"                                                               \
    "    smlad r6, r10, r12, r6\n"                                                                                   \
    "    smlad r7, r11, lr, r7\n"                                                                                    \
    "    ldrd r12, lr, [r0, #4 * (8 + 6 * " #KX ")]\n"                                                               \
    "    smlabb r4, r2, r12, r4\n"                                                                                   \
    "    smlatt r6, r2, r12, r6\n"                                                                                   \
    "    smlabb r5, r3, lr, r5\n"                                                                                    \
    "    smlatt r7, r3, lr, r7\n"

/* rp_requantize_fast of r4-r7 with the record's constants, the clamp, and the four bytes to r1 + delta. */
#define RP_DW4_STORE(SAT)                                                                                          \
    "    add r12, r0, #4 * 22\n"                                                                                     \
    "    ldm r12, {r2, r3, r8-r11}\n"                                                                                \
    "    smmla r4, r4, r2, r3\n"                                                                                     \
    "    smmla r5, r5, r8, r9\n"                                                                                     \
    "    smmla r6, r6, r10, r11\n"                                                                                   \
    "    ldrd r2, r3, [r0, #4 * 28]\n"                                                                               \
    "    smmla r7, r7, r2, r3\n"                                                                                     \
    "    add r12, r0, #4 * 30\n"                                                                                     \
    "    ldm r12, {r2, r3, r8, r9}\n"                                                                                \
    "    asr r4, r4, r2\n"                                                                                           \
    "    asr r5, r5, r3\n"                                                                                           \
    "    asr r6, r6, r8\n"                                                                                           \
    "    asr r7, r7, r9\n" SAT("r4") SAT("r5") SAT("r6") SAT("r7") "    ldr r12, [r0, #4 * 55]\n"                   \
    "    add r12, r1, r12\n"                                                                                         \
    "    strb r4, [r12]\n"                                                                                           \
    "    strb r5, [r12, #1]\n"                                                                                       \
    "    strb r6, [r12, #2]\n"                                                                                       \
    "    strb r7, [r12, #3]\n"

/* One output pixel: its newest column into slot N, the two before from slots K1 and K0; flags: r1 = the end. */
#define RP_DW4_PIXEL(N, K1, K0, SAT)                                                                               \
    RP_DW4_WIDEN(N) "    ldm r0, {r4-r7}\n" RP_DW4_MAC(2) RP_DW4_LOAD(K1) RP_DW4_MAC(1) RP_DW4_LOAD(K0)             \
        RP_DW4_MAC(0) RP_DW4_STORE(SAT) "    ldr r12, [r0, #4 * 56]\n"                                               \
        "    cmp r1, r12\n"

/* The last pixel: columns w - 2 (slot K0) and w - 1 (slot K1), the one past the edge 0. */
#define RP_DW4_TAIL(K1, K0, SAT)                                                                                   \
    "    ldm r0, {r4-r7}\n" RP_DW4_LOAD(K1) RP_DW4_MAC(1) RP_DW4_LOAD(K0) RP_DW4_MAC(0)                            \
        "    ldr r12, [r0, #4 * 54]\n"                                                                               \
        "    add r1, r1, r12\n" RP_DW4_STORE(SAT)

#define RP_DW4_FUNCTION(name, SAT)                                                                                 \
    RP_ASM_BEGIN(name)                                                                                             \
    "    movs r2, #0\n"                                                                                              \
    "    movs r3, #0\n"                                                                                              \
    "    movs r8, #0\n"                                                                                              \
    "    movs r9, #0\n"                                                                                              \
    "    movs r10, #0\n"                                                                                             \
    "    movs r11, #0\n"                                                                                             \
    "    add r12, r0, #4 * 34\n"                                                                                     \
    "    stm r12, {r2, r3, r8-r11}\n" /* slot 0: the column left of the edge */                                      \
    RP_DW4_WIDEN(1)                    /* slot 1: column 0 */                                                        \
    "1:\n" RP_DW4_PIXEL(2, 1, 0, SAT) "    beq 7f\n" RP_DW4_PIXEL(0, 2, 1, SAT) "    beq 8f\n"                       \
    RP_DW4_PIXEL(1, 0, 2, SAT) "    bne 1b\n" RP_DW4_TAIL(1, 0, SAT) "    b 9f\n"                                    \
    "7:\n" RP_DW4_TAIL(2, 1, SAT) "    b 9f\n"                                                                       \
    "8:\n" RP_DW4_TAIL(0, 2, SAT) "9:\n" RP_ASM_END(name)
#define RP_DW4_USAT7(r) "    usat " r ", #7, " r "\n"
#define RP_DW4_SSAT8(r) "    ssat " r ", #8, " r "\n"

__asm__(RP_DW4_FUNCTION(rp_nn_depthwise4_relu, RP_DW4_USAT7)
            RP_DW4_FUNCTION(rp_nn_depthwise4_s8, RP_DW4_SSAT8));
#endif /* RP_USE_DSP */
