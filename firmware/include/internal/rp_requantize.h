/* The one rescaling primitive (docs/numerics.md §2), mirrored bit for bit by harness.model.qmath.requantize. */
#ifndef RP_REQUANTIZE_H
#define RP_REQUANTIZE_H

#include <stdint.h>

/* round(acc * mult * 2^(shift - 31)), ties toward +inf; exact in int64 for |acc| <= 2^31. The result may exceed
 * int32 when shift > 0, so it stays int64 until the caller's clamp. */
static inline int64_t rp_requantize(int32_t acc, int32_t mult, int32_t shift) {
    const int32_t t = 31 - shift; /* 1 .. 62 */
    const int64_t p = (int64_t)acc * mult + ((int64_t)1 << (t - 1));
    return p >> t; /* arithmetic shift: floor (GCC and Clang on every target we build for) */
}

static inline int32_t rp_clamp(int64_t v, int32_t lo, int32_t hi) {
    return v < lo ? lo : (v > hi ? hi : (int32_t)v);
}

#endif /* RP_REQUANTIZE_H */
