/* What the firmware applications share: running the generated model with per-layer timing and CRC-32
 * fingerprints, and writing the text report (format in harness/protocol/report.py) through a line sink. */
#ifndef RP_APP_H
#define RP_APP_H

#include <stdint.h>

#include "model_config.h"
#include "rp_model.h"

typedef struct rp_app_run rp_app_run;

/* Called after each layer's fingerprint, outside every layer's timing window (so it may pause the run). */
typedef void (*rp_app_after_layer)(rp_app_run *run, int32_t layer, const void *data, int32_t bytes);

struct rp_app_run {
    rp_app_after_layer after; /* optional; set by the caller */
    uint32_t start, isr_start, ticks[RP_MODEL_N_LAYERS], crc[RP_MODEL_N_LAYERS];
    int32_t streaming;                 /* 1 while rp_app_stream runs bands */
    int32_t done[RP_MODEL_N_STREAMED]; /* rp_model_stream's rows made */
    int32_t bytes[RP_MODEL_N_LAYERS];
    uint32_t total;
    int32_t n_candidates;
    rp_status status;
};

/* One inference over the image at arena + rp_model.input_offset; timing covers the kernels only. */
void rp_app_infer(uint8_t *arena, rp_app_run *run);

/* The same as the image streams in (rp_model.h, docs/streaming.md): rp_app_begin before its first row,
 * rp_app_stream after each row that arrives (rows: how many are in), then rp_app_finish(arena, run, 1) for the
 * layers that do not stream. rp_app_infer is rp_app_begin and rp_app_finish(arena, run, 0). A failed stream's status
 * stays in run->status and rp_app_finish runs nothing more. */
void rp_app_begin(rp_app_run *run);
void rp_app_stream(uint8_t *arena, rp_app_run *run, int32_t rows);
void rp_app_finish(uint8_t *arena, rp_app_run *run, int32_t streamed);

/* Writes the report of `run`, one NUL-terminated line at a time (each ends with '\n'). */
void rp_app_report(const uint8_t *arena, const rp_app_run *run, void (*put_line)(const char *line));

#endif /* RP_APP_H */
