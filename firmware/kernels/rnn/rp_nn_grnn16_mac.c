/* rp_nn_grnn16_mac_s8_first, _s8, _proj, _project, _none: see include/internal/rp_nn_rnn.h. One macro, five
 * shapes. */
#include "internal/rp_nn_rnn.h"

#if RP_USE_DSP
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
