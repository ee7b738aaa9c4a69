/* The image upload's receiving end (rp_upload.h). */
#include "rp_upload.h"

#include "rp_frame.h"
#include "rp_messages.h"
#include "rp_rowcode.h"

static uint8_t *present(const rp_upload *u) { return u->ring + u->ring_bytes; }
static uint8_t *residuals(const rp_upload *u) { return u->ring + u->ring_bytes + u->ring_bytes / 8u; }

static int32_t has(const rp_upload *u, uint32_t offset) {
    const uint32_t i = offset & (u->ring_bytes - 1u);
    return present(u)[i >> 3] >> (i & 7u) & 1u;
}

/* Every byte of [offset, offset + n) is in the ring. */
static int32_t has_all(const rp_upload *u, uint32_t offset, uint32_t n) {
    for (uint32_t i = 0; i < n; i++)
        if (!has(u, offset + i)) return 0;
    return 1;
}

static void forget(const rp_upload *u, uint32_t offset, uint32_t n) {
    for (uint32_t k = 0; k < n; k++) {
        const uint32_t i = (offset + k) & (u->ring_bytes - 1u);
        present(u)[i >> 3] &= (uint8_t)~(1u << (i & 7u));
    }
}

int32_t rp_upload_start(rp_upload *u, int32_t codec, uint32_t total) {
    const uint32_t pixels = (uint32_t)u->h * (uint32_t)u->w;
    u->codec = codec;
    u->total = total;
    u->pos = 0;
    u->row = 0;
    u->crc = 0;
    if (codec == RP_CODEC_RAW) return total == pixels ? RP_UPLOAD_OK : RP_UPLOAD_OUTSIDE;
    if (codec != RP_CODEC_ROWS || total < (uint32_t)u->h * RP_ROWCODE_HEADER_BYTES ||
        total > pixels + (uint32_t)u->h * RP_ROWCODE_HEADER_BYTES)
        return RP_UPLOAD_OUTSIDE;
    for (uint32_t i = 0; i < u->ring_bytes / 8u; i++) present(u)[i] = 0;
    for (int32_t i = 0; i < u->w; i++) residuals(u)[i] = 0;
    return RP_UPLOAD_OK;
}

/* Decodes every row whose bytes are all in the ring. */
static int32_t decode_ready_rows(rp_upload *u) {
    const uint32_t mask = u->ring_bytes - 1u;
    while (u->row < u->h && has_all(u, u->pos, RP_ROWCODE_HEADER_BYTES)) {
        const uint32_t head = u->ring[u->pos & mask] | (uint32_t)u->ring[(u->pos + 1u) & mask] << 8;
        const uint32_t n = head & ~RP_ROWCODE_RAW, raw = head >> 15;
        const uint32_t end = u->pos + RP_ROWCODE_HEADER_BYTES + n;
        if ((raw && n != (uint32_t)u->w) || (!raw && n >= (uint32_t)u->w) || end > u->total ||
            (u->row == u->h - 1 && end != u->total))
            return RP_UPLOAD_BAD_ROW;
        if (!has_all(u, u->pos + RP_ROWCODE_HEADER_BYTES, n)) break;
        uint8_t *out = u->image + (uint32_t)u->row * (uint32_t)u->w;
        if (rp_rowcode_decode_row(u->ring, mask, u->pos + RP_ROWCODE_HEADER_BYTES, (int32_t)n, (int32_t)raw,
                                  u->row ? out - u->w : 0, residuals(u), out, u->w))
            return RP_UPLOAD_BAD_ROW;
        u->crc = rp_crc32(u->crc, out, u->w);
        forget(u, u->pos, end - u->pos);
        u->pos = end;
        u->row++;
    }
    return RP_UPLOAD_OK;
}

int32_t rp_upload_chunk(rp_upload *u, uint32_t offset, const uint8_t *data, int32_t n) {
    if (n < 1 || offset > u->total || (uint32_t)n > u->total - offset) return RP_UPLOAD_OUTSIDE;
    if (u->codec == RP_CODEC_RAW) {
        for (int32_t i = 0; i < n; i++) u->image[offset + (uint32_t)i] = data[i];
        return RP_UPLOAD_OK;
    }
    if (offset + (uint32_t)n > u->pos + u->ring_bytes) return RP_UPLOAD_BEYOND_RING;
    for (int32_t i = 0; i < n; i++) {
        const uint32_t at = offset + (uint32_t)i;
        if (at < u->pos) continue; /* decoded already: a late resend */
        const uint32_t r = at & (u->ring_bytes - 1u);
        u->ring[r] = data[i];
        present(u)[r >> 3] |= (uint8_t)(1u << (r & 7u));
    }
    return decode_ready_rows(u);
}

int32_t rp_upload_complete(const rp_upload *u) { return u->codec == RP_CODEC_RAW || u->row == u->h; }
