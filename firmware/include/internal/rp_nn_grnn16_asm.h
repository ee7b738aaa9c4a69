/* The text of the face models' FastGRNN cells in Cortex-M4 assembly (internal/rp_nn_rnn.h declares the functions
 * and the frame they work in): the block of multiply-accumulates, the gates and update of 16 units, whole RNN1 and
 * RNN2 sequences, and RP_NN_GRNN16_GATES, which the model's generated C uses to compile a cell's sequences for its
 * shift. Macros only; included by internal/rp_nn_rnn.h. */
#ifndef RP_INTERNAL_NN_GRNN16_ASM_H
#define RP_INTERNAL_NN_GRNN16_ASM_H

#include "internal/rp_dsp.h"
#include "rp_kernels.h"

#if RP_USE_DSP
/* RP_GRNN16_BLOCK pairs, init, before, after: one block of four rows (r4-r7) of the regrouped weights (r0) times
 * `pairs` int16 pairs of v (r1), two pairs per LDRD (r12, lr) and four rows of a pair per LDM (r8-r11): 11
 * instructions per 8 SMLAD. init: the accumulators start from r3 (LDM), else at 0 (SMUAD). before, after: bytes of
 * the block the shape skips (RNN2's W' before U h; U after W' v when h = 0 or the input is projected alone). The
 * four accumulators leave by one STM to r2. */
#define RP_GRNN16_MACROS                                                                                             \
    "    .macro RP_GRNN16_BLOCK pairs, init, before, after\n"                                                        \
    "    .if \\before\n"                                                                                             \
    "    add r0, r0, #\\before\n"                                                                                    \
    "    .endif\n"                                                                                                   \
    "    .if \\init\n"                                                                                               \
    "    ldm r3!, {r4-r7}\n"                                                                                         \
    "    .endif\n"                                                                                                   \
    "    .set rp_k, 0\n"                                                                                             \
    "    .rept \\pairs / 2\n"                                                                                        \
    "    ldrd r12, lr, [r1, #8 * rp_k]\n"                                                                            \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    .if (\\init == 0) && (rp_k == 0)\n"                                                                         \
    "    smuad r4, r8, r12\n"                                                                                        \
    "    smuad r5, r9, r12\n"                                                                                        \
    "    smuad r6, r10, r12\n"                                                                                       \
    "    smuad r7, r11, r12\n"                                                                                       \
    "    .else\n"                                                                                                    \
    "    smlad r4, r8, r12, r4\n"                                                                                    \
    "    smlad r5, r9, r12, r5\n"                                                                                    \
    "    smlad r6, r10, r12, r6\n"                                                                                   \
    "    smlad r7, r11, r12, r7\n"                                                                                   \
    "    .endif\n"                                                                                                   \
    "    ldm r0!, {r8-r11}\n"                                                                                        \
    "    smlad r4, r8, lr, r4\n"                                                                                     \
    "    smlad r5, r9, lr, r5\n"                                                                                     \
    "    smlad r6, r10, lr, r6\n"                                                                                    \
    "    smlad r7, r11, lr, r7\n"                                                                                    \
    "    .set rp_k, rp_k + 1\n"                                                                                      \
    "    .endr\n"                                                                                                    \
    "    stm r2!, {r4-r7}\n"                                                                                         \
    "    .if \\after\n"                                                                                              \
    "    add r0, r0, #\\after\n"                                                                                     \
    "    .endif\n"                                                                                                   \
    "    .endm\n"
#endif /* RP_USE_DSP */

#if RP_USE_DSP
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

/* The same units when s + 7 is known, S (RP_NN_GRNN16_GATES' sequences): 11.5 instructions per unit. Two units per
 * turn, with r3 (no shift to hold) the pair of their h and r8 walking kg, kh: one LDRD of the accumulators (r10,
 * r9), one LDM of the four constants (r6, r7, r11, r12), one LDR of the h pair; the shift is SSAT's immediate, and
 * z (h - c) + 8192 = (z h + 8192) - z c takes h from its half of r3 by SMLABB / SMLABT, then MLS. HALF: B or T. */
#define RP_GRNN16_UNIT_IMM(ACC, KG, KH, HALF, S)                                                                     \
    "    smmla " KG ", " ACC ", r2, " KG "\n"                                                                        \
    "    smmla " KH ", " ACC ", r2, " KH "\n"                                                                        \
    "    ssat " KG ", #11, " KG ", asr #" #S "\n"                                                                    \
    "    ldrsh " KG ", [r1, " KG ", lsl #1]\n"                                                                       \
    "    ssat " KH ", #11, " KH ", asr #" #S "\n"                                                                    \
    "    ldrsh " KH ", [r4, " KH ", lsl #1]\n"                                                                       \
    "    smlab" HALF " lr, " KG ", r3, r5\n"                                                                         \
    "    mls lr, " KG ", " KH ", lr\n"                                                                               \
    "    add lr, " KH ", lr, asr #14\n"                                                                              \
    "    strh lr, [r0, #4 * 50 + 2 * rp_i]\n"                                                                        \
    "    .set rp_i, rp_i + 1\n"
/* The same with one table index per unit (ONE = 1: the cell's bg - bh are multiples of 128, rp_fastgrnn_gates'
 * one_index): 9.5 instructions per unit. The sigmoid's index ug alone is computed and clamped; KH holds the unit's
 * tanh table pointer, the table's entry 0 moved by -(bg - bh) / 128 (rp_nn_grnn16_attach), so c = tanh table[ug -
 * (bg - bh) / 128], read from the padded table (RP_NN_TANH_PAD): exact also when ug was clamped, as the table is
 * flat there. */
#define RP_GRNN16_UNIT_ONE(ACC, KG, KH, HALF, S)                                                                     \
    "    smmla " KG ", " ACC ", r2, " KG "\n"                                                                        \
    "    ssat " KG ", #11, " KG ", asr #" #S "\n"                                                                    \
    "    ldrsh " KH ", [" KH ", " KG ", lsl #1]\n"                                                                   \
    "    ldrsh " KG ", [r1, " KG ", lsl #1]\n"                                                                       \
    "    smlab" HALF " lr, " KG ", r3, r5\n"                                                                         \
    "    mls lr, " KG ", " KH ", lr\n"                                                                               \
    "    add lr, " KH ", lr, asr #14\n"                                                                              \
    "    strh lr, [r0, #4 * 50 + 2 * rp_i]\n"                                                                        \
    "    .set rp_i, rp_i + 1\n"
#define RP_GRNN16_UNIT_0 RP_GRNN16_UNIT_IMM
#define RP_GRNN16_UNIT_1 RP_GRNN16_UNIT_ONE
/* The whole function (file-scope __asm__) for any shift (r3); the units for S, inside the sequences below. */
#define RP_GRNN16_GATES_ASM(name)                                                                                    \
    RP_ASM_BEGIN(name) "    ldm r1, {r1-r5}\n"                                                                       \
    "    .set rp_i, 0\n"                                                                                             \
    "    .rept 8\n"                                                                                                  \
    "    ldrd r10, r9, [r0, #4 * rp_i]\n" RP_GRNN16_UNIT("r10") "    .set rp_i, rp_i + 1\n" RP_GRNN16_UNIT("r9")     \
    "    .set rp_i, rp_i + 1\n"                                                                                      \
    "    .endr\n" RP_ASM_END(name)
#define RP_GRNN16_GATES_IMM(S, ONE)                                                                                  \
    "    ldm r1, {r1-r5}\n"                                                                                          \
    "    add r8, r0, #4 * 16\n"                                                                                      \
    "    .set rp_i, 0\n"                                                                                             \
    "    .rept 8\n"                                                                                                  \
    "    ldrd r10, r9, [r0, #4 * rp_i]\n"                                                                            \
    "    ldm r8!, {r6, r7, r11, r12}\n"                                                                              \
    "    ldr r3, [r0, #4 * 50 + 2 * rp_i]\n" RP_GRNN16_UNIT_##ONE("r10", "r6", "r7", "b", S)                         \
        RP_GRNN16_UNIT_##ONE("r9", "r11", "r12", "t", S) "    .endr\n"

/* Whole sequences with the gates for S, one function each, so that a step pays no call, prologue or C loop: about
 * 20 instructions a step fewer than the C loop over rp_nn_grnn16_mac_s8 and the gates (RP_NN_GRNN16_GATES).
 * State on the stack (words): the gate constants' address, then the input's walk (RNN1: x, pitch, end; RNN2: the
 * projections' pointer and end), the weights and h_out (RNN1: and w2).
 * - RNN1 (name##_seq_s8(frame, gate, x, {pitch, end, w, h_out, w2})): per step the pixel's four int8 channels at x,
 *   packed into the frame's X words as rp_nn_fastgrnn_run_s8 does (x_shift 8), x += pitch, until x == end; with
 *   w2 (an RNN2 cell's prepared weights, n_in 16) the final h is not copied but projected,
 *   h_out = rp_nn_grnn16_mac_project(w2, h) (16 int32), as RNNPool wants every summary;
 * - RNN2 (name##_seq_proj(frame, gate, proj, {end, w, h_out, q})): per step the accumulators start from *proj++,
 *   until proj == end; with q ({mult, rnd, s}: rp_requantize_fast's, shift <= -2) the final h is not copied but
 *   requantised, h_out[i] = SSAT8(rp_requantize_fast(h[i], mult, rnd, s)) (16 int8), as rp_rnnpool_s8's output;
 * Each starts from h = 0 in the frame and copies the final h to h_out (16 int16, 4-byte aligned). */
#define RP_GRNN16_ZERO_H                                                                                             \
    "    movs r8, #0\n"                                                                                              \
    "    movs r9, #0\n"                                                                                              \
    "    strd r8, r9, [r0, #4 * 50]\n"                                                                               \
    "    strd r8, r9, [r0, #4 * 52]\n"                                                                               \
    "    strd r8, r9, [r0, #4 * 54]\n"                                                                               \
    "    strd r8, r9, [r0, #4 * 56]\n"
#define RP_GRNN16_COPY_H                                                                                             \
    "    add r3, r0, #4 * 50\n"                                                                                      \
    "    ldm r3, {r4-r11}\n"                                                                                         \
    "    stm r2, {r4-r11}\n"
/* The two int16 of a word of h, each rp_requantize_fast'd (mult r0, rnd r1, s r3), SSAT'd to int8 and stored at
 * r2++ (rp_rnnpool_s8's output; RP_GRNN16_SEQ_PROJ_ASM). */
#define RP_GRNN16_REQUANT_PAIR(W)                                                                                    \
    "    sxth lr, " W "\n"                                                                                           \
    "    smmla lr, lr, r0, r1\n"                                                                                     \
    "    asr lr, lr, r3\n"                                                                                           \
    "    ssat lr, #8, lr\n"                                                                                          \
    "    strb lr, [r2], #1\n"                                                                                        \
    "    asr r12, " W ", #16\n"                                                                                      \
    "    smmla r12, r12, r0, r1\n"                                                                                   \
    "    asr r12, r12, r3\n"                                                                                         \
    "    ssat r12, #8, r12\n"                                                                                        \
    "    strb r12, [r2], #1\n"
#define RP_GRNN16_PACK_S8                                                                                            \
    "    ldr r6, [r2]\n"                                                                                             \
    "    add r2, r2, r3\n"                                                                                           \
    "    str r2, [sp, #4]\n"                                                                                         \
    "    lsl r7, r6, #8\n"                                                                                           \
    "    and r7, r7, #0xFF00FF00\n"                                                                                  \
    "    and r6, r6, #0xFF00FF00\n"                                                                                  \
    "    strd r7, r6, [r0, #4 * 48]\n"                                                                               \
    "    add r1, r0, #4 * 48\n"                                                                                      \
    "    mov r2, r0\n"                                                                                               \
    "    mov r0, r5\n"
#define RP_GRNN16_SEQ_S8_ASM(name, S, ONE)                                                                           \
    RP_ASM_BEGIN(name) RP_GRNN16_MACROS                                                                              \
    "    sub sp, #28\n"                                                                                              \
    "    ldm r3, {r4-r8}\n"                                                                                          \
    "    stm sp, {r1, r2, r4-r8}\n" RP_GRNN16_ZERO_H                                                                 \
    "    mov r3, r4\n"                                                                                               \
    "    mov r5, r6\n" RP_GRNN16_PACK_S8                                                                             \
    "    .rept 4\n"                                                                                                  \
    "    RP_GRNN16_BLOCK 2, 0, 0, 128\n"                                                                             \
    "    .endr\n"                                                                                                    \
    "    b 2f\n"                                                                                                     \
    "1:  ldm sp, {r1, r2, r3, r4, r5}\n"                                                                             \
    "    cmp r2, r4\n"                                                                                               \
    "    beq 3f\n" RP_GRNN16_PACK_S8                                                                                 \
    "    .rept 4\n"                                                                                                  \
    "    RP_GRNN16_BLOCK 10, 0, 0, 0\n"                                                                              \
    "    .endr\n"                                                                                                    \
    "2:  sub r0, r2, #4 * 16\n"                                                                                      \
    "    ldr r1, [sp]\n" RP_GRNN16_GATES_IMM(S, ONE) "    b 1b\n"                                                    \
    "3:  ldrd r2, r3, [sp, #20]\n"                                                                                   \
    "    cmp r3, #0\n"                                                                                               \
    "    beq 4f\n"                                                                                                   \
    "    add r1, r0, #4 * 50\n"                                                                                      \
    "    mov r0, r3\n"                                                                                               \
    "    .rept 4\n"                                                                                                  \
    "    RP_GRNN16_BLOCK 8, 0, 0, 128\n"                                                                             \
    "    .endr\n"                                                                                                    \
    "    b 5f\n"                                                                                                     \
    "4:\n" RP_GRNN16_COPY_H "5:  add sp, #28\n"                                                                      \
    "    .purgem RP_GRNN16_BLOCK\n" RP_ASM_END(name)
#define RP_GRNN16_SEQ_PROJ_ASM(name, S, ONE)                                                                         \
    RP_ASM_BEGIN(name) RP_GRNN16_MACROS                                                                              \
    "    sub sp, #24\n"                                                                                              \
    "    ldm r3, {r4-r7}\n"                                                                                          \
    "    stm sp, {r1, r2, r4-r7}\n" RP_GRNN16_ZERO_H                                                                 \
    "    ldr r3, [r2], #4\n"                                                                                         \
    "    str r2, [sp, #4]\n"                                                                                         \
    "    mov r2, r0\n"                                                                                               \
    "    .rept 4\n"                                                                                                  \
    "    RP_GRNN16_BLOCK 0, 1, 0, 0\n"                                                                               \
    "    .endr\n"                                                                                                    \
    "    b 2f\n"                                                                                                     \
    "1:  ldm sp, {r1, r2, r3, r4}\n"                                                                                 \
    "    cmp r2, r3\n"                                                                                               \
    "    beq 3f\n"                                                                                                   \
    "    ldr r3, [r2], #4\n"                                                                                         \
    "    str r2, [sp, #4]\n"                                                                                         \
    "    add r1, r0, #4 * 50\n"                                                                                      \
    "    mov r2, r0\n"                                                                                               \
    "    mov r0, r4\n"                                                                                               \
    "    .rept 4\n"                                                                                                  \
    "    RP_GRNN16_BLOCK 8, 1, 128, 0\n"                                                                             \
    "    .endr\n"                                                                                                    \
    "2:  sub r0, r2, #4 * 16\n"                                                                                      \
    "    ldr r1, [sp]\n" RP_GRNN16_GATES_IMM(S, ONE) "    b 1b\n"                                                    \
    "3:  ldrd r2, r3, [sp, #16]\n"                                                                                   \
    "    cmp r3, #0\n"                                                                                               \
    "    bne 4f\n" RP_GRNN16_COPY_H "    b 5f\n"                                                                     \
    "4:  add r1, r0, #4 * 50\n"                                                                                      \
    "    ldm r1, {r4-r11}\n"                                                                                         \
    "    ldm r3, {r0, r1, r3}\n" RP_GRNN16_REQUANT_PAIR("r4") RP_GRNN16_REQUANT_PAIR("r5")                           \
        RP_GRNN16_REQUANT_PAIR("r6") RP_GRNN16_REQUANT_PAIR("r7") RP_GRNN16_REQUANT_PAIR("r8")                       \
            RP_GRNN16_REQUANT_PAIR("r9") RP_GRNN16_REQUANT_PAIR("r10") RP_GRNN16_REQUANT_PAIR("r11")                 \
    "5:  add sp, #24\n"                                                                                              \
    "    .purgem RP_GRNN16_BLOCK\n" RP_ASM_END(name)
#endif /* RP_USE_DSP */

/* RP_NN_GRNN16_GATES(name, S, ONE), at file scope: `static const rp_fastgrnn_gates name`, the sequences of the
 * cells whose gate shift s + 7 is S (a literal, 8 .. 31), S an immediate (name##_seq_s8, name##_seq_proj), with one
 * table index per unit when ONE is 1 (RP_GRNN16_UNIT_ONE; 0: two); in the portable build the record alone. */
#if RP_USE_DSP
#define RP_NN_GRNN16_GATES(name, S, ONE)                                                                             \
    void name##_seq_s8(int32_t *frame, const uint32_t *gate, const int8_t *x, const int32_t args[5]);                \
    void name##_seq_proj(int32_t *frame, const uint32_t *gate, const int32_t *const *proj, const int32_t args[4]);   \
    __asm__(RP_GRNN16_SEQ_S8_ASM(name##_seq_s8, S, ONE) RP_GRNN16_SEQ_PROJ_ASM(name##_seq_proj, S, ONE));            \
    static const rp_fastgrnn_gates name = {S, ONE, name##_seq_s8, name##_seq_proj};
#else
#define RP_NN_GRNN16_GATES(name, S, ONE) static const rp_fastgrnn_gates name = {S, ONE, 0, 0};
#endif /* RP_USE_DSP */

#endif /* RP_INTERNAL_NN_GRNN16_ASM_H */
