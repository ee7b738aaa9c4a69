/* Build configuration derived once from the compiler: RP_USE_DSP selects the Cortex-M4 DSP-extension paths
 * (SMLAD dual 16-bit MACs). Define RP_USE_DSP=0 to force portable C on a DSP-capable core. */
#ifndef RP_CONFIG_H
#define RP_CONFIG_H

#ifndef RP_USE_DSP
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define RP_USE_DSP 1
#else
#define RP_USE_DSP 0
#endif
#endif

#if RP_USE_DSP
#include <arm_acle.h>
#include <stdint.h>
/* Two int16 lanes from any 2-byte-aligned address in one word load (the M4 allows unaligned LDR). */
typedef uint32_t __attribute__((aligned(2), may_alias)) rp_q15x2_t;
static inline uint32_t rp_read_q15x2(const int16_t *p) { return *(const rp_q15x2_t *)p; }
#endif /* RP_USE_DSP */

#endif /* RP_CONFIG_H */
