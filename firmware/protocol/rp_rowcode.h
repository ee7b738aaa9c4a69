/* The image's lossless row code, the device side of harness/protocol/rowcode.py (docs/protocol.md, "Coded upload"):
 * per row a u16 header (bit 15 raw, bits 0-14 the body's bytes), then W raw pixels or, per pixel, the Golomb-Rice
 * code of the zigzagged median-prediction error, MSB first, padded to a byte. */
#ifndef RP_ROWCODE_H
#define RP_ROWCODE_H

#include <stdint.h>

#define RP_ROWCODE_HEADER_BYTES 2
#define RP_ROWCODE_RAW 0x8000u
#define RP_ROWCODE_ESCAPE 16 /* a quotient this large sends m in 8 bits instead */
#define RP_ROWCODE_K_SCALE 6 /* k = least k <= 7 with K_SCALE << k >= s */

/* Decodes one row's body of n bytes (raw: the pixels) read from ring[(at + i) & mask] into out[0..w).
 * above: the row above (NULL for row 0). m: w bytes, the row above's residuals (zeros before row 0), replaced by
 * this row's. Returns 0, or -1 when the code runs past its n bytes or leaves a whole byte unused. */
int32_t rp_rowcode_decode_row(const uint8_t *ring, uint32_t mask, uint32_t at, int32_t n, int32_t raw,
                              const uint8_t *above, uint8_t *m, uint8_t *out, int32_t w);

#endif /* RP_ROWCODE_H */
