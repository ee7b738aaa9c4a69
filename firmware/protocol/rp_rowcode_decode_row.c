/* One row of the image's row code (rp_rowcode.h); harness/protocol/rowcode.py's decode is the same loop. */
#include "rp_rowcode.h"

static int32_t predict(int32_t a, int32_t b, int32_t c) {
    const int32_t hi = a > b ? a : b, lo = a > b ? b : a;
    return c >= hi ? lo : c <= lo ? hi : a + b - c;
}

static int32_t rice_k(uint32_t s) {
    int32_t k = 0;
    while (k < 7 && ((uint32_t)RP_ROWCODE_K_SCALE << k) < s) k++;
    return k;
}

int32_t rp_rowcode_decode_row(const uint8_t *ring, uint32_t mask, uint32_t at, int32_t n, int32_t raw,
                              const uint8_t *above, uint8_t *m, uint8_t *out, int32_t w) {
    const uint32_t end = 8u * (uint32_t)n;
    uint32_t pos = 0;    /* bits read */
    uint32_t bits = 0;   /* the next unread bits, MSB first */
    int32_t avail = 0;   /* how many of them */
    uint32_t nw = 0, left = 0;
    for (int32_t x = 0; x < w; x++) {
        const int32_t b = above ? above[x] : 0;
        const int32_t a = x ? out[x - 1] : b, c = x && above ? above[x - 1] : b;
        const int32_t pred = predict(a, b, c);
        const uint32_t up = m[x];
        uint32_t v, code;
        if (raw) {
            v = ring[(at + (uint32_t)x) & mask];
            const int32_t e = (int32_t)((v - (uint32_t)pred + 128u) & 255u) - 128;
            code = e >= 0 ? 2u * (uint32_t)e : (uint32_t)(-2 * e - 1);
        } else {
            const int32_t k = rice_k(left + nw + up + (x + 1 < w ? m[x + 1] : 0u));
            /* a pixel takes at most ESCAPE + 8 = 24 bits: keep more than 24 buffered while the row has them */
            while (avail <= 24 && pos + (uint32_t)avail < end) {
                bits |= (uint32_t)ring[(at + (pos + (uint32_t)avail) / 8u) & mask] << (24 - avail);
                avail += 8;
            }
            int32_t q = 0;
            while (q < RP_ROWCODE_ESCAPE && (bits & 0x80000000u)) {
                bits <<= 1;
                q++;
            }
            const int32_t escaped = q == RP_ROWCODE_ESCAPE, tail = escaped ? 8 : k;
            const int32_t used = q + !escaped + tail;
            if (used > avail) return -1; /* past the row's bytes */
            if (!escaped) bits <<= 1;    /* the unary code's closing zero */
            const uint32_t low = tail ? bits >> (32 - tail) : 0u;
            bits <<= tail;
            avail -= used;
            pos += (uint32_t)used;
            code = escaped ? low : (uint32_t)q << k | low;
            v = (uint32_t)(pred + (code & 1u ? -(int32_t)((code + 1u) >> 1) : (int32_t)(code >> 1))) & 255u;
        }
        out[x] = (uint8_t)v;
        nw = up;
        m[x] = (uint8_t)code;
        left = code;
    }
    return raw || (pos + 7u) / 8u == (uint32_t)n ? 0 : -1;
}
