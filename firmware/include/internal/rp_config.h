/* Build configuration of the kernels, derived once from the compiler (as CMSIS-NN's Include/Internal/
 * arm_nn_compiler.h). Not part of the kernel API (include/rp_kernels.h). */
#ifndef RP_INTERNAL_CONFIG_H
#define RP_INTERNAL_CONFIG_H

/* RP_USE_DSP selects the Cortex-M4 DSP-extension paths (internal/rp_dsp.h). Define RP_USE_DSP=0 to force the
 * portable C paths on a DSP-capable core. */
#ifndef RP_USE_DSP
#if defined(__ARM_FEATURE_DSP) && __ARM_FEATURE_DSP
#define RP_USE_DSP 1
#else
#define RP_USE_DSP 0
#endif
#endif

/* Inlined whatever GCC's heuristics say: the kernels' loop bodies rely on it for their register allocation and
 * constant folding (sizes and clamps known at the call). */
#define RP_INLINE static inline __attribute__((always_inline))

#endif /* RP_INTERNAL_CONFIG_H */
