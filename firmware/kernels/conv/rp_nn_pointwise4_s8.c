/* rp_nn_pointwise4_relu, _s8, _relu_wide, _s8_wide, _widen, rp_nn_conv4_dot, _row_s16, _row_s16_wide,
 * rp_nn_conv2x2_row_s16, _row_s16_wide and rp_nn_widen_s8: see
 * include/internal/rp_nn_conv.h. One block of 32 input channels (RP_PW4_32) serves the first five. */
#include "internal/rp_config.h"
#include "internal/rp_dsp.h"
#include "internal/rp_nn_conv.h"

#if RP_USE_DSP
/* Registers: r0 walks the record (r12 keeps its start), r1 the input (post-increment: the pixels are consecutive),
 * lr the output; r4-r7 the four accumulators; per 4 input channels the pixel word (r2) widens to [x0, x2] (r2) and
 * [x1, x3] (r3), and two LDM bring the paired weights of the four channels (r8-r11): 13 instructions for 16 MACs.
 * The loop takes 32 input channels per turn (r2 reloads its end from the stack). Per pixel, after the channels:
 * rp_requantize_fast (SMMLA, ASR) per channel with the constants of the record's tail, then USAT #7 or SSAT #8 and
 * four STRB; about 25 instructions. Stack: the input's end, c_out and the weights' end. */
/* 4 input channels at r1 as the two pair words r2, r3: int8 input (a word widened by two SXTB16) or wide input (its
 * two words as they are, one LDRD: 11 instructions for 16 MACs with RP_PW4_MAC16). */
#define RP_PW4_IN_S8                                                                                               \
    "    ldr r2, [r1], #4\n"                                                                                         \
    "    sxtb16 r3, r2, ror #8\n"                                                                                    \
    "    sxtb16 r2, r2\n"
#define RP_PW4_IN_WIDE "    ldrd r2, r3, [r1], #8\n"
/* Four input channels (their pair words A, B) into the four accumulators (r4-r7): two LDM of the paired weights
 * (r0), eight SMLAD. */
#define RP_PW4_MAC16(A, B)                                                                                         \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    smlad r4, " A ", r8, r4\n"                                                                                  \
    "    smlad r4, " B ", r9, r4\n"                                                                                  \
    "    smlad r5, " A ", r10, r5\n"                                                                                 \
    "    smlad r5, " B ", r11, r5\n"                                                                                 \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    smlad r6, " A ", r8, r6\n"                                                                                  \
    "    smlad r6, " B ", r9, r6\n"                                                                                  \
    "    smlad r7, " A ", r10, r7\n"                                                                                 \
    "    smlad r7, " B ", r11, r7\n"
#define RP_PW4_32(IN)                                                                                              \
    "    .rept 8\n" IN RP_PW4_MAC16("r2", "r3") "    .endr\n"

/* After a pixel's channels (r0 at the record's tail): rp_requantize_fast (SMMLA, ASR) per channel and the clamp
 * (r4-r7); RP_PW4_PIXEL_END then stores the four bytes and goes to the next pixel (r1 against the input's end,
 * lr += c_out, r0 back to the record) or out. */
#define RP_PW4_REQUANT(SAT)                                                                                        \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    smmla r4, r4, r8, r9\n"                                                                                     \
    "    smmla r5, r5, r10, r11\n"                                                                                   \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    smmla r6, r6, r8, r9\n"                                                                                     \
    "    smmla r7, r7, r10, r11\n"                                                                                   \
    "    ldm r0, {r8-r11}\n"                                                                                         \
    "    asr r4, r4, r8\n"                                                                                           \
    "    asr r5, r5, r9\n"                                                                                           \
    "    asr r6, r6, r10\n"                                                                                          \
    "    asr r7, r7, r11\n" SAT("r4") SAT("r5") SAT("r6") SAT("r7")
#define RP_PW4_PIXEL_END(SAT)                                                                                      \
    RP_PW4_REQUANT(SAT) "    strb r4, [lr]\n"                                                                      \
    "    strb r5, [lr, #1]\n"                                                                                        \
    "    strb r6, [lr, #2]\n"                                                                                        \
    "    strb r7, [lr, #3]\n"                                                                                        \
    "    ldrd r2, r3, [sp]\n"                                                                                        \
    "    add lr, lr, r3\n"                                                                                           \
    "    mov r0, r12\n"                                                                                              \
    "    cmp r1, r2\n"                                                                                               \
    "    bne 1b\n"
#define RP_PW4_FUNCTION(name, SAT, IN)                                                                             \
    RP_ASM_BEGIN(name)                                                                                             \
    "    ldm r3, {r4-r6}\n"                                                                                          \
    "    sub sp, #12\n"                                                                                              \
    "    stm sp, {r4-r6}\n"                                                                                          \
    "    mov r12, r0\n"                                                                                              \
    "    mov lr, r2\n"                                                                                               \
    "1:  ldm r0!, {r4-r7}\n"                                                                                         \
    "2:\n" RP_PW4_32(IN)                                                                                             \
    "    ldr r2, [sp, #8]\n"                                                                                         \
    "    cmp r0, r2\n"                                                                                               \
    "    bne 2b\n"                                                                                                   \
    RP_PW4_PIXEL_END(SAT) "    add sp, #12\n" RP_ASM_END(name)
/* The same over wide input with c_in / 32 (args[3], 1 .. 4) blocks unrolled: each pixel enters the run of four
 * blocks that many blocks before its end (the entry is computed once, on the stack), so no channel loop remains.
 * Eight input channels come in per LDM (r2, r3, r12, lr): 21 instructions for 32 MACs, so the record's start and
 * the output pointer live on the stack (sp + 12, + 16), two instructions more per pixel. */
#define RP_PW4_32_WIDE                                                                                             \
    "    .rept 4\n"                                                                                                  \
    "    ldm r1!, {r2, r3, r12, lr}\n"                                                                               \
    RP_PW4_MAC16("r2", "r3") RP_PW4_MAC16("r12", "lr") "    .endr\n"
#define RP_PW4_UNROLLED(name, SAT)                                                                                 \
    RP_ASM_BEGIN(name)                                                                                             \
    "    ldm r3, {r4-r7}\n"                                                                                          \
    "    sub sp, #20\n"                                                                                              \
    "    adr.w r8, 4f\n"                                                                                             \
    "    movw r9, #4 * 84\n"                                                                                         \
    "    mls r8, r7, r9, r8\n"                                                                                       \
    "    orr r8, r8, #1\n"                                                                                           \
    "    stm sp, {r4, r5, r8}\n"                                                                                     \
    "    strd r2, r0, [sp, #12]\n"                                                                                   \
    "1:  ldm r0!, {r4-r7}\n"                                                                                         \
    "    ldr pc, [sp, #8]\n"                                                                                         \
    "3:  .rept 4\n" RP_PW4_32_WIDE "    .endr\n"                                                                     \
    "4:\n"                                                                                                          \
    "    .ifne (4b - 3b) - 4 * 4 * 84\n"                                                                             \
    "    .error \"rp_nn_pointwise4: a block of 32 input channels is not 84 words\"\n"                                  \
    "    .endif\n" RP_PW4_REQUANT(SAT) "    ldrd r2, r3, [sp]\n"                                                   \
    "    ldrd lr, r0, [sp, #12]\n"                                                                                   \
    "    strb r4, [lr]\n"                                                                                            \
    "    strb r5, [lr, #1]\n"                                                                                        \
    "    strb r6, [lr, #2]\n"                                                                                        \
    "    strb r7, [lr, #3]\n"                                                                                        \
    "    add lr, lr, r3\n"                                                                                           \
    "    str lr, [sp, #12]\n"                                                                                        \
    "    cmp r1, r2\n"                                                                                               \
    "    bne 1b\n"                                                                                                   \
    "    add sp, #20\n" RP_ASM_END(name)
#define RP_PW4_USAT7(r) "    usat " r ", #7, " r "\n"
#define RP_PW4_SSAT8(r) "    ssat " r ", #8, " r "\n"

/* rp_nn_conv4_dot: acc (r4-r7, from and back to memory) over `rows` segments of n bytes, `skip` bytes apart, the
 * weights consecutive (r0); r12 the segment's end, lr the segments left; acc, n and skip on the stack. */
#define RP_CONV4_DOT                                                                                               \
    RP_ASM_BEGIN(rp_nn_conv4_dot)                                                                                  \
    "    ldm r2, {r4-r7}\n"                                                                                          \
    "    ldm r3, {r8-r10}\n"                                                                                         \
    "    sub sp, #12\n"                                                                                              \
    "    stm sp, {r2, r8, r9}\n"                                                                                     \
    "    mov lr, r10\n"                                                                                              \
    "1:  ldr r12, [sp, #4]\n"                                                                                        \
    "    add r12, r1, r12\n"                                                                                         \
    "2:\n" RP_PW4_32(RP_PW4_IN_S8) "    cmp r1, r12\n"                                                              \
    "    bne 2b\n"                                                                                                   \
    "    ldr r12, [sp, #8]\n"                                                                                        \
    "    add r1, r1, r12\n"                                                                                          \
    "    subs lr, lr, #1\n"                                                                                          \
    "    bne 1b\n"                                                                                                   \
    "    ldr r2, [sp]\n"                                                                                             \
    "    add sp, #12\n"                                                                                              \
    "    stm r2, {r4-r7}\n" RP_ASM_END(rp_nn_conv4_dot)

/* rp_nn_conv4_row_s16: per output pixel the biases (params, r12), three window rows of n bytes through RP_PW4_32
 * as rp_nn_conv4_dot, then per lane rp_requantize_fast64 (SMLAL of acc and mult onto rnd, ASR by s; rp_conv_group's
 * mult, s and rnd at params + 16, + 32, + 48), SSAT #16 and STRH. Stack: w, n, skip, x_step, y_step, the pixels
 * left, params, the pixel's x, the window row's end. */
/* Lane J's value from ACC to AT: rp_requantize_fast64 with params r12, SSAT #16, STRH. */
#define RP_CONV_LANE(ACC, J, AT)                                                                                   \
    "    ldrd r8, r9, [r12, #48 + 8 * " #J "]\n"                                                                     \
    "    ldr r10, [r12, #16 + 4 * " #J "]\n"                                                                         \
    "    ldr r11, [r12, #32 + 4 * " #J "]\n"                                                                         \
    "    smlal r8, r9, " ACC ", r10\n"                                                                               \
    "    asr r9, r9, r11\n"                                                                                          \
    "    ssat r9, #16, r9\n"                                                                                         \
    "    strh r9, " AT "\n"
/* The next pixel (or pair), while the count at sp + 20 lasts. */
#define RP_CONV_NEXT                                                                                               \
    "    ldr r2, [sp, #20]\n"                                                                                        \
    "    subs r2, r2, #1\n"                                                                                          \
    "    str r2, [sp, #20]\n"                                                                                        \
    "    bne 1b\n"
/* The three window rows of a pixel (r1) through BLOCK (32 input channels), n and skip at sp + 4, + 8, the row's
 * end kept at sp + END. */
#define RP_CONV_ROWS(BLOCK, END)                                                                                   \
    "    .rept 3\n"                                                                                                  \
    "    ldr r2, [sp, #4]\n"                                                                                         \
    "    add r2, r1, r2\n"                                                                                           \
    "    str r2, [sp, #" #END "]\n"                                                                                  \
    "2:\n" BLOCK "    ldr r2, [sp, #" #END "]\n"                                                                     \
    "    cmp r1, r2\n"                                                                                               \
    "    bne 2b\n"                                                                                                   \
    "    ldr r2, [sp, #8]\n"                                                                                         \
    "    add r1, r1, r2\n"                                                                                           \
    "    .endr\n"
/* The three window rows of a ring (rp_nn_conv_s8's fast scratch: widened rows in any order) in one loop, each row
 * followed by its own skip (sp + 40, + 44; the third's, at + 48, is a don't-care: r1 reloads after the rows); sp + 52
 * holds the next skip's offset. START runs at each row's start. */
#define RP_CONV_ROWS_RING(BLOCK, START)                                                                            \
    "    movs r3, #40\n"                                                                                            \
    "    str r3, [sp, #52]\n"                                                                                       \
    "3:  ldr r2, [sp, #4]\n"                                                                                        \
    "    add r2, r1, r2\n"                                                                                          \
    "    str r2, [sp, #32]\n" START "2:\n" BLOCK "    ldr r2, [sp, #32]\n"                                           \
    "    cmp r1, r2\n"                                                                                              \
    "    bne 2b\n"                                                                                                  \
    "    ldr r3, [sp, #52]\n"                                                                                       \
    "    ldr r2, [sp, r3]\n"                                                                                        \
    "    add r1, r1, r2\n"                                                                                          \
    "    adds r3, #4\n"                                                                                             \
    "    str r3, [sp, #52]\n"                                                                                       \
    "    cmp r3, #52\n"                                                                                             \
    "    bne 3b\n"
/* The arguments onto the stack: six (w, then args[0..5] from sp + 4), or seven with the two skips args[1], args[6]
 * again at sp + 40, + 44 (RP_CONV_ROWS_RING). */
#define RP_CONV_ARGS6                                                                                              \
    "    ldm r3, {r4-r9}\n"                                                                                         \
    "    sub sp, #40\n"                                                                                             \
    "    stm sp, {r0, r4-r9}\n"
#define RP_CONV_ARGS7                                                                                              \
    "    ldm r3, {r4-r10}\n"                                                                                        \
    "    sub sp, #56\n"                                                                                             \
    "    stm sp, {r0, r4-r9}\n"                                                                                     \
    "    str r5, [sp, #40]\n"                                                                                       \
    "    str r10, [sp, #44]\n"
#define RP_CONV4_ROW_FN(name, ARGS, ROWS, FRAME)                                                                   \
    RP_ASM_BEGIN(name) ARGS "    mov lr, r2\n"                                                                     \
    "1:  ldr r12, [sp, #24]\n"                                                                                      \
    "    ldm r12, {r4-r7}\n"                                                                                        \
    "    str r1, [sp, #28]\n"                                                                                       \
    "    ldr r0, [sp]\n"                                                                                            \
    ROWS "    ldr r12, [sp, #24]\n" RP_CONV_LANE("r4", 0, "[lr]") RP_CONV_LANE("r5", 1, "[lr, #2]")                   \
        RP_CONV_LANE("r6", 2, "[lr, #4]") RP_CONV_LANE("r7", 3, "[lr, #6]") "    ldrd r2, r3, [sp, #12]\n"           \
    "    ldr r1, [sp, #28]\n"                                                                                       \
    "    add r1, r1, r2\n"                                                                                          \
    "    add lr, lr, r3\n" RP_CONV_NEXT                                                                              \
    "    add sp, #" #FRAME "\n" RP_ASM_END(name)
#define RP_CONV4_ROW_S16 \
    RP_CONV4_ROW_FN(rp_nn_conv4_row_s16, RP_CONV_ARGS6, RP_CONV_ROWS(RP_PW4_32(RP_PW4_IN_S8), 32), 40)
#define RP_CONV4_ROW_S16_WIDE \
    RP_CONV4_ROW_FN(rp_nn_conv4_row_s16_wide, RP_CONV_ARGS7, RP_CONV_ROWS_RING(RP_PW4_32(RP_PW4_IN_WIDE), ""), 56)

/* 32 input channels of two pixels (r1 and r1 + lr) into r4-r7 with two lanes' paired weights (r0). */
#define RP_CONV2X2_32                                                                                              \
    "    .rept 8\n"                                                                                                  \
    "    ldr r2, [r1, lr]\n"                                                                                         \
    "    ldr r3, [r1], #4\n"                                                                                         \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    sxtb16 r12, r3\n"                                                                                           \
    "    sxtb16 r3, r3, ror #8\n"                                                                                    \
    "    smlad r4, r12, r8, r4\n"                                                                                    \
    "    smlad r4, r3, r9, r4\n"                                                                                     \
    "    smlad r5, r12, r10, r5\n"                                                                                   \
    "    smlad r5, r3, r11, r5\n"                                                                                    \
    "    sxtb16 r12, r2\n"                                                                                           \
    "    sxtb16 r2, r2, ror #8\n"                                                                                    \
    "    smlad r6, r12, r8, r6\n"                                                                                    \
    "    smlad r6, r2, r9, r6\n"                                                                                     \
    "    smlad r7, r12, r10, r7\n"                                                                                   \
    "    smlad r7, r2, r11, r7\n"                                                                                    \
    "    .endr\n"
/* rp_nn_conv2x2_row_s16: rp_nn_conv4_row_s16 for two lanes and pixel pairs (p, q = p + x_step / 2 in lr): the
 * biases of lanes 0, 1 for both, three window rows through RP_CONV2X2_32, the four values stored (q's y_step / 2
 * bytes after p's). Stack: w, n, skip, x_step, y_step, the pairs left, params, the pixel's x, the window row's end,
 * y. */
/* RP_CONV2X2_32 over wide input (a ring of widened rows): per 4 channels one LDRD for p (r1) and one for q (r12,
 * walking beside r1 from each row's start): 11 instructions for 16 MACs against 15. */
#define RP_CONV2X2_32_WIDE                                                                                         \
    "    .rept 8\n"                                                                                                 \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    ldrd r2, r3, [r1], #8\n"                                                                                   \
    "    smlad r4, r2, r8, r4\n"                                                                                    \
    "    smlad r4, r3, r9, r4\n"                                                                                    \
    "    smlad r5, r2, r10, r5\n"                                                                                   \
    "    smlad r5, r3, r11, r5\n"                                                                                   \
    "    ldrd r2, r3, [r12], #8\n"                                                                                  \
    "    smlad r6, r2, r8, r6\n"                                                                                    \
    "    smlad r6, r3, r9, r6\n"                                                                                    \
    "    smlad r7, r2, r10, r7\n"                                                                                   \
    "    smlad r7, r3, r11, r7\n"                                                                                   \
    "    .endr\n"
#define RP_CONV2X2_ROW_FN(name, ARGS, ROWS, FRAME)                                                                 \
    RP_ASM_BEGIN(name) ARGS "    str r2, [sp, #36]\n"                                                              \
    "    lsr lr, r6, #1\n"                                                                                          \
    "1:  ldr r12, [sp, #24]\n"                                                                                      \
    "    ldrd r4, r5, [r12]\n"                                                                                      \
    "    mov r6, r4\n"                                                                                              \
    "    mov r7, r5\n"                                                                                              \
    "    str r1, [sp, #28]\n"                                                                                       \
    "    ldr r0, [sp]\n"                                                                                            \
    ROWS "    ldr r12, [sp, #24]\n"                                                                                 \
    "    ldr r0, [sp, #36]\n"                                                                                       \
    "    ldr r1, [sp, #16]\n"                                                                                       \
    "    add r1, r0, r1, lsr #1\n" RP_CONV_LANE("r4", 0, "[r0]") RP_CONV_LANE("r5", 1, "[r0, #2]")                 \
        RP_CONV_LANE("r6", 0, "[r1]") RP_CONV_LANE("r7", 1, "[r1, #2]") "    ldrd r2, r3, [sp, #12]\n"             \
    "    add r0, r0, r3\n"                                                                                          \
    "    str r0, [sp, #36]\n"                                                                                       \
    "    ldr r1, [sp, #28]\n"                                                                                       \
    "    add r1, r1, r2\n" RP_CONV_NEXT                                                                              \
    "    add sp, #" #FRAME "\n" RP_ASM_END(name)
#define RP_CONV2X2_ROW_S16 \
    RP_CONV2X2_ROW_FN(rp_nn_conv2x2_row_s16, RP_CONV_ARGS6, RP_CONV_ROWS(RP_CONV2X2_32, 32), 40)
#define RP_CONV2X2_ROW_S16_WIDE \
    RP_CONV2X2_ROW_FN(rp_nn_conv2x2_row_s16_wide, RP_CONV_ARGS7,                                                 \
                      RP_CONV_ROWS_RING(RP_CONV2X2_32_WIDE, "    add r12, r1, lr\n"), 56)

/* rp_nn_pointwise4_widen: per 4 input channels, the filter words of the four rows (unaligned LDR, r1 + k c_in)
 * widened by 8 SXTB16 and stored by one STM, two such per turn: 29 instructions per 16 words. */
#define RP_PW4_WIDEN                                                                                               \
    RP_ASM_BEGIN(rp_nn_pointwise4_widen)                                                                           \
    "    add r3, r2, r2, lsl #1\n" /* 3 c_in */                                                                      \
    "    add lr, r1, r2\n"         /* the end of row 0 */                                                            \
    "    lsl r12, r2, #1\n"        /* 2 c_in */                                                                      \
    "1:  .rept 2\n"                                                                                                  \
    "    ldr r8, [r1]\n"                                                                                             \
    "    ldr r9, [r1, r2]\n"                                                                                         \
    "    ldr r10, [r1, r12]\n"                                                                                       \
    "    ldr r11, [r1, r3]\n"                                                                                        \
    "    adds r1, #4\n"                                                                                              \
    "    sxtb16 r4, r8\n"                                                                                            \
    "    sxtb16 r5, r8, ror #8\n"                                                                                    \
    "    sxtb16 r6, r9\n"                                                                                            \
    "    sxtb16 r7, r9, ror #8\n"                                                                                    \
    "    sxtb16 r8, r10\n"                                                                                           \
    "    sxtb16 r9, r10, ror #8\n"                                                                                   \
    "    sxtb16 r10, r11\n"                                                                                          \
    "    sxtb16 r11, r11, ror #8\n"                                                                                  \
    "    stm r0!, {r4-r11}\n"                                                                                        \
    "    .endr\n"                                                                                                    \
    "    cmp r1, lr\n"                                                                                               \
    "    bne 1b\n" RP_ASM_END(rp_nn_pointwise4_widen)

/* rp_nn_widen_s8: per 16 bytes one LDM, 8 SXTB16 and one STM, the lanes of each word in the order of RP_PW4_IN_WIDE
 * (even, odd); the block is read before it is written, so dst may lie up to n bytes below src. */
#define RP_WIDEN_S8                                                                                                \
    RP_ASM_BEGIN(rp_nn_widen_s8)                                                                                   \
    "    add r2, r1, r2\n"                                                                                           \
    "1:  ldm r1!, {r5, r7, r9, r11}\n"                                                                               \
    "    sxtb16 r4, r5\n"                                                                                            \
    "    sxtb16 r5, r5, ror #8\n"                                                                                    \
    "    sxtb16 r6, r7\n"                                                                                            \
    "    sxtb16 r7, r7, ror #8\n"                                                                                    \
    "    sxtb16 r8, r9\n"                                                                                            \
    "    sxtb16 r9, r9, ror #8\n"                                                                                    \
    "    sxtb16 r10, r11\n"                                                                                          \
    "    sxtb16 r11, r11, ror #8\n"                                                                                  \
    "    stm r0!, {r4-r11}\n"                                                                                        \
    "    cmp r1, r2\n"                                                                                               \
    "    bne 1b\n" RP_ASM_END(rp_nn_widen_s8)

__asm__(RP_PW4_FUNCTION(rp_nn_pointwise4_relu, RP_PW4_USAT7, RP_PW4_IN_S8)
            RP_PW4_FUNCTION(rp_nn_pointwise4_s8, RP_PW4_SSAT8, RP_PW4_IN_S8)
                RP_PW4_UNROLLED(rp_nn_pointwise4_relu_wide, RP_PW4_USAT7)
                    RP_PW4_UNROLLED(rp_nn_pointwise4_s8_wide, RP_PW4_SSAT8) RP_CONV4_DOT RP_CONV4_ROW_S16
                        RP_CONV4_ROW_S16_WIDE RP_CONV2X2_ROW_S16 RP_CONV2X2_ROW_S16_WIDE
                        RP_PW4_WIDEN RP_WIDEN_S8);
#endif /* RP_USE_DSP */
