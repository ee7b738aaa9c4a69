/* Helpers for small measurement programs (kernel tests and benchmarks): zlib's CRC-32 and one labelled number
 * per console line, e.g. "stem_crc 575e8f75" or "stem_instructions 14255088". */
#ifndef RP_PROBE_H
#define RP_PROBE_H

#include <stdint.h>

#include "rp_runtime.h"

static inline uint32_t rp_probe_crc32(const void *data, uint32_t n) {
    const uint8_t *p = data;
    uint32_t c = 0xFFFFFFFFu;
    while (n--) {
        c ^= *p++;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
    }
    return ~c;
}

/* Writes label, suffix and v (8 hex digits, or decimal) as one line. */
static inline void rp_probe_put(const char *label, const char *suffix, uint32_t v, int hex) {
    char buf[96], *s = buf;
    while (*label && s < buf + 60) *s++ = *label++;
    while (*suffix && s < buf + 80) *s++ = *suffix++;
    s = rp_fmt_u32(s, v, hex);
    *s++ = '\n';
    *s = 0;
    rp_puts(buf);
}

#endif /* RP_PROBE_H */
