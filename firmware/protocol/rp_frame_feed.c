/* rp_frame_feed: see rp_frame.h. */
#include "rp_frame.h"

/* COBS-decodes buf[0..n) in place (the output is never longer); returns the decoded length or -1. */
static int32_t unstuff(uint8_t *buf, int32_t n) {
    int32_t in = 0, out = 0;
    while (in < n) {
        const int32_t code = buf[in++];
        if (code == 0 || in + code - 1 > n) return -1;
        for (int32_t k = 1; k < code; k++) buf[out++] = buf[in++];
        if (code < 255 && in < n) buf[out++] = 0;
    }
    return out;
}

int32_t rp_frame_feed(rp_frame_decoder *d, uint8_t byte, rp_frame *frame) {
    if (byte) {
        if (d->n >= 0 && d->n < (int32_t)sizeof d->buf) d->buf[d->n++] = byte;
        else d->n = -1; /* too long: drop it at the next delimiter */
        return 0;
    }
    const int32_t n = d->n;
    d->n = 0;
    if (n == 0) return 0; /* empty packet: a delimiter pair, not an error */
    const int32_t len = n < 0 ? -1 : unstuff(d->buf, n);
    if (len < RP_FRAME_OVERHEAD) {
        d->dropped++;
        return 0;
    }
    const uint8_t *b = d->buf;
    const uint32_t crc = b[len - 4] | (uint32_t)b[len - 3] << 8 | (uint32_t)b[len - 2] << 16 | (uint32_t)b[len - 1] << 24;
    const int32_t length = len - RP_FRAME_OVERHEAD;
    if (length > RP_FRAME_MAX_PAYLOAD || rp_crc32(0, b, len - 4) != crc) {
        d->dropped++;
        return 0;
    }
    frame->kind = b[0], frame->seq = b[1], frame->length = (uint16_t)length, frame->payload = b + 2;
    return 1;
}
