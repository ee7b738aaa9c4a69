/* The image upload on the device (docs/protocol.md, "Image upload"): IMAGE_START names the codec and the stream's
 * length; IMAGE_CHUNKs carry ranges of that stream by offset, in any order. Raw chunks go straight into the image.
 * Coded chunks wait in a reorder ring until every byte of the next row is there; then the row is decoded into the
 * image (rp_rowcode.h). The ring holds RING bytes from the next row's start: the host never sends beyond. */
#ifndef RP_UPLOAD_H
#define RP_UPLOAD_H

#include <stdint.h>

enum { RP_UPLOAD_OK = 0, RP_UPLOAD_OUTSIDE = -1, RP_UPLOAD_BEYOND_RING = -2, RP_UPLOAD_BAD_ROW = -3 };

typedef struct {
    uint8_t *image;      /* h x w, row-major */
    int32_t h, w;
    uint8_t *ring;       /* ring_bytes (a power of two), then its presence bitmap (ring_bytes / 8), then w residuals */
    uint32_t ring_bytes;
    int32_t codec;       /* RP_CODEC_RAW or RP_CODEC_ROWS */
    uint32_t total;      /* the stream's bytes */
    uint32_t pos;        /* coded: the stream offset of the next row to decode */
    int32_t row;         /* coded: the next row to decode */
    uint32_t crc;        /* coded: zlib CRC-32 of the rows decoded so far (they may be overwritten once decoded) */
} rp_upload;

/* A new upload of `total` stream bytes; returns RP_UPLOAD_OUTSIDE for an unknown codec or a length the image
 * cannot have (raw: h * w; coded: at least a header per row). */
int32_t rp_upload_start(rp_upload *u, int32_t codec, uint32_t total);

/* Takes stream bytes [offset, offset + n); bytes already decoded are ignored. Returns an RP_UPLOAD_ status. */
int32_t rp_upload_chunk(rp_upload *u, uint32_t offset, const uint8_t *data, int32_t n);

/* 1 once every row is in the image (raw: always, the CRC at RUN finds holes). */
int32_t rp_upload_complete(const rp_upload *u);

#endif /* RP_UPLOAD_H */
