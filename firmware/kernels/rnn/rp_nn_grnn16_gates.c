/* rp_nn_grnn16_gates, rp_nn_grnn16_gates_hard: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

#if RP_USE_DSP
/* Per unit 20.5 instructions, r0 the frame, every constant in a register (r1 pairs, r2 mult, r3 s + 1, r4 s, r5
 * the interpolation operand, r6 256, r7 2^23 + 256, r8 8192), the accumulators two by two (r10, r9):
 *   ug = hi(acc mult) + kg, uh = ... + kh: the gate inputs pre + bg = ug >> s, pre + bh = uh >> s (rp_nn_rnn.h);
 *   z  = sig_q: g = ug >> (s + 1), word i = clamp(g >> 9, -256, 255) (one SSAT), f = g & 511 (BFI into the low half
 *        of r5, whose top half stays 512), (T[i] 512 + D[i] f + 2^23 + 256) >> 10 (rp_nn_sigmoid_i32, which clamps
 *        g to [-2^17, 2^17) first: the same value, as D is 0 in the first and the last word, so f does not count
 *        there; tests/harness/targets/test_qemu_rnnpool_speed.py holds those two words);
 *   c  = tanh_q: the same with g = uh >> s, + 256, >> 9 (rp_nn_tanh_i32);
 *   h' = c + ((z (h - c) + 8192) >> 14) (the convex update of rp_nn_grnn_unit). */
#define RP_GRNN16_UNIT(ACC)                                                                                          \
    "    ldrd r11, r12, [r0, #4 * 16 + 8 * rp_i]\n"                                                                  \
    "    smmla r11, " ACC ", r2, r11\n"                                                                              \
    "    smmla r12, " ACC ", r2, r12\n"                                                                              \
    "    asr r11, r11, r3\n"                                                                                         \
    "    ssat r10, #9, r11, asr #9\n"                                                                                \
    "    ldr r10, [r1, r10, lsl #2]\n"                                                                               \
    "    bfi r5, r11, #0, #9\n"                                                                                      \
    "    smlad r11, r10, r5, r7\n"                                                                                   \
    "    asr r11, r11, #10\n"                                                                                        \
    "    asr r12, r12, r4\n"                                                                                         \
    "    ssat r10, #9, r12, asr #9\n"                                                                                \
    "    ldr r10, [r1, r10, lsl #2]\n"                                                                               \
    "    bfi r5, r12, #0, #9\n"                                                                                      \
    "    smlad r12, r10, r5, r6\n"                                                                                   \
    "    asr r12, r12, #9\n"                                                                                         \
    "    ldrsh lr, [r0, #4 * 50 + 2 * rp_i]\n"                                                                       \
    "    sub lr, lr, r12\n"                                                                                          \
    "    mla lr, r11, lr, r8\n"                                                                                      \
    "    add lr, r12, lr, asr #14\n"                                                                                 \
    "    strh lr, [r0, #4 * 50 + 2 * rp_i]\n"

/* The frame offsets above are RP_NN_GRNN16_KB and RP_NN_GRNN16_H. */
_Static_assert(RP_NN_GRNN16_KB == 16 && RP_NN_GRNN16_H == 50, "rp_nn_grnn16_gates: frame layout");

__asm__(RP_ASM_BEGIN(rp_nn_grnn16_gates) "    ldm r1, {r1-r8}\n"
        "    .set rp_i, 0\n"
        "    .rept 8\n"                                         /* two units per turn: their accumulators by LDRD */
        "    ldrd r10, r9, [r0, #4 * rp_i]\n" RP_GRNN16_UNIT("r10") "    .set rp_i, rp_i + 1\n"
        RP_GRNN16_UNIT("r9") "    .set rp_i, rp_i + 1\n"
        "    .endr\n"
        RP_ASM_END(rp_nn_grnn16_gates));

void rp_nn_grnn16_gates_hard(int32_t *frame, const rp_nn_grnn *g) {
    const int32_t *acc = frame, *kb = frame + RP_NN_GRNN16_KB;
    int16_t *h = (int16_t *)(void *)(frame + RP_NN_GRNN16_H);
#pragma GCC unroll 16
    for (int32_t i = 0; i < 16; i++)
        h[i] = (int16_t)rp_nn_grnn_unit(g, acc[i], kb + 2 * i, h[i], RP_NN_GRNN_HARD | RP_NN_GRNN_CONVEX);
}
#endif /* RP_USE_DSP */
