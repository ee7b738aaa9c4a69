/* rp_frame_encode: see rp_frame.h. */
#include "rp_frame.h"

/* COBS: each run of non-zero bytes (at most 254) is preceded by its length + 1; zeros vanish. */
typedef struct {
    uint8_t *out;
    int32_t pos, code_at, cap;
} cobs_writer;

static int32_t put(cobs_writer *w, uint8_t byte) {
    if (w->pos >= w->cap) return -1;
    if (byte) w->out[w->pos++] = byte;
    if (!byte || w->pos - w->code_at == 255) { /* close the run */
        w->out[w->code_at] = (uint8_t)(w->pos - w->code_at);
        w->code_at = w->pos++;
        if (w->code_at >= w->cap) return -1;
    }
    return 0;
}

int32_t rp_frame_encode(uint8_t kind, uint8_t seq, const uint8_t *payload, int32_t n, uint8_t *out, int32_t cap) {
    if (n < 0 || n > RP_FRAME_MAX_PAYLOAD || cap < 3) return -1;
    const uint8_t head[2] = {kind, seq};
    uint32_t crc = rp_crc32(rp_crc32(0, head, 2), payload, n);
    const uint8_t tail[4] = {(uint8_t)crc, (uint8_t)(crc >> 8), (uint8_t)(crc >> 16), (uint8_t)(crc >> 24)};
    out[0] = 0;
    cobs_writer w = {out, 2, 1, cap - 1};
    int32_t bad = 0;
    for (int i = 0; i < 2; i++) bad |= put(&w, head[i]);
    for (int32_t i = 0; i < n; i++) bad |= put(&w, payload[i]);
    for (int i = 0; i < 4; i++) bad |= put(&w, tail[i]);
    if (bad) return -1;
    out[w.code_at] = (uint8_t)(w.pos - w.code_at); /* the last run */
    out[w.pos++] = 0;
    return w.pos;
}
