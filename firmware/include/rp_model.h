/* The interface of a generated model (harness/codegen writes model.c and model_config.h for one model file). */
#ifndef RP_MODEL_H
#define RP_MODEL_H

#include <stdint.h>

#include "rp_kernels.h"
#include "rp_mbconv.h"

typedef struct {
    const char *name;          /* the reference's layer name: fingerprints and timings are keyed by it */
    int32_t h, w, c;
    int32_t elem_bytes;        /* 1 (int8) or 2 (int16); the candidates layer: sizeof(rp_candidate) */
    uint32_t macs;             /* multiply-accumulates the kernel performs */
} rp_layer_info;

typedef struct {
    const char *model_id;
    int32_t input_h, input_w;  /* 8-bit grey image, row-major, at arena + input_offset */
    int32_t arena_bytes;
    int32_t input_offset;
    int32_t candidates_offset; /* rp_candidate[max_candidates] after a run */
    int32_t max_candidates;
    int32_t n_layers;
    int32_t n_streamed;        /* the first layers, which rp_model_stream runs as the image's rows arrive */
    const rp_layer_info *layers;
} rp_model_info;

extern const rp_model_info rp_model;

/* Called before (end = 0, data = NULL) and after (end = 1, data = the layer's output) every layer; a layer that
 * runs in parts (the candidates, after each head) ends each part but the last with end = 2 (data = NULL): its
 * ticks are the sum of its parts'. A streamed layer runs in bands of rows, each ending with end = 3, data = the
 * rows it made (their bytes in HWC order follow the band before's: its fingerprint goes on over them); after its
 * last band, a call with end = 4 (outside every timing window) gives its whole output, intact only when the image
 * did not stream (rp_model_run with streamed = 0; a streamed run's next layer is over it by then). */
typedef void (*rp_layer_hook)(void *user, int32_t layer, int32_t end, const void *data, int32_t bytes);

/* Row streaming (docs/streaming.md): with the first `rows` rows of the image at arena + rp_model.input_offset,
 * runs every row of the streamed layers that they allow and that has not run. done[RP_MODEL_N_STREAMED]: the
 * output rows each streamed layer has made, zero before an image's first call; the calls of one image come with
 * `rows` never falling. The streamed layers write over the image rows no later row needs, so a row must be in place
 * before the call that counts it, and rows beyond the count may still arrive. */
rp_status rp_model_stream(uint8_t *arena, int32_t rows, int32_t *done, rp_layer_hook hook, void *user);

/* One inference over the image at arena + rp_model.input_offset, or (streamed != 0) over what rp_model_stream left
 * once it had every row. The arena (arena_bytes, 4-byte aligned) holds every tensor and kernel scratch at offsets
 * fixed by the planner; *n_candidates counts the candidates found (those beyond max_candidates are not stored).
 * hook may be NULL. */
rp_status rp_model_run(uint8_t *arena, int32_t streamed, rp_layer_hook hook, void *user, int32_t *n_candidates);

#endif /* RP_MODEL_H */
