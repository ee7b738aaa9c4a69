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
    uint32_t start, ticks[RP_MODEL_N_LAYERS], crc[RP_MODEL_N_LAYERS];
    int32_t bytes[RP_MODEL_N_LAYERS];
    uint32_t total;
    int32_t n_candidates;
    rp_status status;
};

/* One inference over the image at arena + rp_model.input_offset; timing covers the kernels only. */
void rp_app_infer(uint8_t *arena, rp_app_run *run);

/* Writes the report of `run`, one NUL-terminated line at a time (each ends with '\n'). */
void rp_app_report(const uint8_t *arena, const rp_app_run *run, void (*put_line)(const char *line));

#endif /* RP_APP_H */
