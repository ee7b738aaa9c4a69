/* rp_nn_grnn16_gates, rp_nn_grnn16_gates_hard: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

#if RP_USE_DSP
/* Per unit 14.5 instructions, r0 the frame, every constant in a register (r1 the sigmoid table, r2 mult, r3 s + 7,
 * r4 the tanh table, r5 8192), the accumulators two by two (r10, r9):
 *   ug = hi(acc mult) + kg, uh = ... + kh: the table indices (pre + bg + 64) >> 7 = ug >> (s + 7), likewise uh
 *        (kg, kh hold 64 2^s: rp_nn_rnn.h), each clamped to [-1024, 1023] by one SSAT;
 *   z  = sig table[ug], c = tanh table[uh] (numerics §4.1);
 *   h' = c + ((z (h - c) + 8192) >> 14) (the convex update of rp_nn_grnn_unit). */
#define RP_GRNN16_UNIT(ACC)                                                                                          \
    "    ldrd r11, r12, [r0, #4 * 16 + 8 * rp_i]\n"                                                                  \
    "    smmla r11, " ACC ", r2, r11\n"                                                                              \
    "    smmla r12, " ACC ", r2, r12\n"                                                                              \
    "    asr r11, r11, r3\n"                                                                                         \
    "    ssat r11, #11, r11\n"                                                                                       \
    "    ldrsh r11, [r1, r11, lsl #1]\n"                                                                             \
    "    asr r12, r12, r3\n"                                                                                         \
    "    ssat r12, #11, r12\n"                                                                                       \
    "    ldrsh r12, [r4, r12, lsl #1]\n"                                                                             \
    "    ldrsh lr, [r0, #4 * 50 + 2 * rp_i]\n"                                                                       \
    "    sub lr, lr, r12\n"                                                                                          \
    "    mla lr, r11, lr, r5\n"                                                                                      \
    "    add lr, r12, lr, asr #14\n"                                                                                 \
    "    strh lr, [r0, #4 * 50 + 2 * rp_i]\n"

/* The frame offsets above are RP_NN_GRNN16_KB and RP_NN_GRNN16_H. */
_Static_assert(RP_NN_GRNN16_KB == 16 && RP_NN_GRNN16_H == 50, "rp_nn_grnn16_gates: frame layout");

__asm__(RP_ASM_BEGIN(rp_nn_grnn16_gates) "    ldm r1, {r1-r5}\n"
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
