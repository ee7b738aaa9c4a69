/* rp_nn_grnn16_gates, rp_nn_grnn16_gates_hard: see include/internal/rp_nn_rnn.h. */
#include "internal/rp_nn_rnn.h"

#if RP_USE_DSP
/* The frame offsets of RP_GRNN16_UNIT and RP_GRNN16_GATES_IMM are RP_NN_GRNN16_KB and RP_NN_GRNN16_H. */
_Static_assert(RP_NN_GRNN16_KB == 16 && RP_NN_GRNN16_H == 50, "rp_nn_grnn16_gates: frame layout");

/* Any gate shift, from r3 (a cell compiled with RP_NN_GRNN16_GATES runs its own sequences instead). */
__asm__(RP_GRNN16_GATES_ASM(rp_nn_grnn16_gates));

void rp_nn_grnn16_gates_hard(int32_t *frame, const rp_nn_grnn *g) {
    const int32_t *acc = frame, *kb = frame + RP_NN_GRNN16_KB;
    int16_t *h = (int16_t *)(void *)(frame + RP_NN_GRNN16_H);
#pragma GCC unroll 16
    for (int32_t i = 0; i < 16; i++)
        h[i] = (int16_t)rp_nn_grnn_unit(g, acc[i], kb + 2 * i, h[i], RP_NN_GRNN_HARD | RP_NN_GRNN_CONVEX);
}
#endif /* RP_USE_DSP */
