/* rp_nn_grnn16_gates: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

#if RP_USE_DSP
/* Per unit, 23 instructions, every constant in a register (r3 pairs, r4 mult, r5 s, r6 the interpolation operand,
 * r7 256, r8 2^23 + 256, r9 8192):
 *   ug = hi(acc mult) + kg, uh = ... + kh, then >> s: the gate inputs pre + bg, pre + bh (internal/rp_nn_rnn.h);
 *   z  = sig_q: c1 = clamp(ug >> 1, -2^17, 2^17 - 1) (one SSAT), word i = c1 >> 9, f = c1 & 511 (BFI into the low
 *        half of r6, whose top half stays 512), (T[i] 512 + D[i] f + 2^23 + 256) >> 10 (rp_nn_sigmoid_i32);
 *   c  = tanh_q: the same with c = clamp(uh, -2^17, 2^17 - 1), + 256, >> 9 (rp_nn_tanh_i32);
 *   h' = c + ((z (h - c) + 8192) >> 14) (the convex update of rp_nn_grnn_unit). */
__asm__(".pushsection .text.rp_nn_grnn16_gates,\"ax\",%progbits\n"
        "    .syntax unified\n"
        "    .thumb\n"
        "    .align 2\n"
        "    .global rp_nn_grnn16_gates\n"
        "    .type rp_nn_grnn16_gates, %function\n"
        "    .thumb_func\n"
        "rp_nn_grnn16_gates:\n"
        "    push {r4-r11, lr}\n"
        "    ldm r3, {r3-r9}\n"
        "    .rept 16\n"
        "    ldr r10, [r0], #4\n"
        "    ldrd r11, r12, [r1], #8\n"
        "    smmla r11, r10, r4, r11\n"
        "    smmla r12, r10, r4, r12\n"
        "    asr r11, r11, r5\n"
        "    asr r12, r12, r5\n"
        "    ssat r11, #18, r11, asr #1\n"
        "    asr r10, r11, #9\n"
        "    ldr r10, [r3, r10, lsl #2]\n"
        "    bfi r6, r11, #0, #9\n"
        "    smlad r11, r10, r6, r8\n"
        "    asr r11, r11, #10\n"
        "    ssat r12, #18, r12\n"
        "    asr r10, r12, #9\n"
        "    ldr r10, [r3, r10, lsl #2]\n"
        "    bfi r6, r12, #0, #9\n"
        "    smlad r12, r10, r6, r7\n"
        "    asr r12, r12, #9\n"
        "    ldrsh lr, [r2]\n"
        "    sub lr, lr, r12\n"
        "    mla lr, r11, lr, r9\n"
        "    add lr, r12, lr, asr #14\n"
        "    strh lr, [r2], #2\n"
        "    .endr\n"
        "    pop {r4-r11, pc}\n"
        "    .size rp_nn_grnn16_gates, .-rp_nn_grnn16_gates\n"
        ".popsection\n");
#endif /* RP_USE_DSP */
