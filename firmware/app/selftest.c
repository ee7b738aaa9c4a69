/* Self-test firmware: runs the generated model on the image compiled into flash (selftest_image.h), writes the
 * report (per-layer CRC-32 fingerprints and instruction/cycle counts, candidates, arena, stack high-water) over
 * semihosting and exits with status 0 (harness/compare/selftest.py checks it against the reference). */
#include <string.h>

#include "rp_app.h"
#include "rp_runtime.h"
#include "selftest_image.h"

static uint8_t arena[RP_MODEL_ARENA_BYTES] __attribute__((aligned(4)));

int main(void) {
    static rp_app_run run;
    rp_board_init();
    memcpy(arena + rp_model.input_offset, selftest_image, sizeof selftest_image);
    rp_app_infer(arena, &run);
    rp_app_report(arena, &run, rp_puts);
    return run.status == RP_OK ? 0 : 1;
}
