/* Serial protocol frames, the firmware side of harness/protocol/frames.py:
 * 0x00 COBS(kind u8, seq u8, payload, crc32 u32 LE) 0x00, CRC-32 as zlib's; the length is implied by the framing. */
#ifndef RP_FRAME_H
#define RP_FRAME_H

#include <stdint.h>

#ifndef RP_FRAME_MAX_PAYLOAD
#define RP_FRAME_MAX_PAYLOAD 4096
#endif
#define RP_FRAME_OVERHEAD 6 /* header 2 + CRC 4 */
/* Worst-case encoded size: COBS adds one byte per 254 plus one, and the two delimiters. */
#define RP_FRAME_WIRE_MAX(n) ((n) + RP_FRAME_OVERHEAD + ((n) + RP_FRAME_OVERHEAD) / 254 + 3)

typedef struct {
    uint8_t kind, seq;
    uint16_t length;
    const uint8_t *payload; /* points into the decoder's buffer: valid until the next rp_frame_feed */
} rp_frame;

typedef struct {
    uint8_t buf[RP_FRAME_WIRE_MAX(RP_FRAME_MAX_PAYLOAD)];
    int32_t n;          /* bytes of the packet so far */
    uint32_t dropped;   /* packets thrown away: bad stuffing, CRC, length, a payload over RP_FRAME_MAX_PAYLOAD */
} rp_frame_decoder;

/* zlib.crc32: rp_crc32(0, p, n) for one buffer; pass the previous result to continue. */
uint32_t rp_crc32(uint32_t crc, const uint8_t *p, int32_t n);

/* Writes the frame to out (capacity cap); returns its length, or -1 if n > RP_FRAME_MAX_PAYLOAD or cap is short. */
int32_t rp_frame_encode(uint8_t kind, uint8_t seq, const uint8_t *payload, int32_t n, uint8_t *out, int32_t cap);

/* Feeds one received byte; returns 1 and fills *frame when it completes an intact frame, else 0. */
int32_t rp_frame_feed(rp_frame_decoder *d, uint8_t byte, rp_frame *frame);

#endif /* RP_FRAME_H */
