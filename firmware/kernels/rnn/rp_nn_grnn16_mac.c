/* rp_nn_grnn16_mac_s8_first, _s8, _proj, _project, _none: see include/internal/rp_nn_rnn.h. One macro, five
 * shapes. */
#include "internal/rp_nn_rnn.h"

#if RP_USE_DSP
/* RP_GRNN16_BLOCK pairs, init, before, after: one block of four rows (r4-r7) of the regrouped weights (r0) times
 * `pairs` int16 pairs of v (r1), two pairs per LDRD (r12, lr) and four rows of a pair per LDM (r8-r11): 11
 * instructions per 8 SMLAD. init: the accumulators start from r3 (LDM), else at 0 (SMUAD). before, after: bytes of
 * the block the shape skips (RNN2's W' before U h; U after W' v when h = 0 or the input is projected alone). The
 * four accumulators leave by one STM to r2. */
#define RP_GRNN16_MACROS                                                                                             \
    "    .macro RP_GRNN16_BLOCK pairs, init, before, after\n"                                                       \
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

/* One function: four blocks of one shape between a push and a pop. */
#define RP_GRNN16_FUNCTION(name, shape)                                                                            \
    RP_ASM_BEGIN(name)                                                                                             \
    "    .rept 4\n"                                                                                                  \
    "    RP_GRNN16_BLOCK " shape "\n"                                                                                \
    "    .endr\n"                                                                                                    \
    RP_ASM_END(name)

/* Block bytes: RNN1 (2 + 8 pairs) 160, RNN2 (8 + 8 pairs) 256; 8 pairs of four rows are 128. */
__asm__(RP_GRNN16_MACROS                                        /* pairs, init, before, after */
        RP_GRNN16_FUNCTION(rp_nn_grnn16_mac_s8_first, "2, 0, 0, 128")          /* W' x only: skip U */
        RP_GRNN16_FUNCTION(rp_nn_grnn16_mac_s8, "10, 0, 0, 0")                 /* [W' | U] [x | h] */
        RP_GRNN16_FUNCTION(rp_nn_grnn16_mac_proj, "8, 1, 128, 0")             /* init + U h: skip W' */
        RP_GRNN16_FUNCTION(rp_nn_grnn16_mac_project, "8, 0, 0, 128")          /* W' x: skip U */
        RP_GRNN16_FUNCTION(rp_nn_grnn16_mac_none, "0, 1, 0, 0")                /* init: RNN2's first step */
        "    .purgem RP_GRNN16_BLOCK\n");
#endif /* RP_USE_DSP */
