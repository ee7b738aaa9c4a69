/* Self-test firmware: runs the generated model on the image compiled into flash (selftest_image.h) and reports
 * per-layer CRC-32 fingerprints, instruction/cycle counts, candidates, arena size and stack high-water as text
 * over semihosting, then exits with status 0 (harness/build/selftest.py parses the report). */
#include <string.h>

#include "model_config.h"
#include "rp_model.h"
#include "rp_runtime.h"
#include "selftest_image.h"

static uint8_t arena[RP_MODEL_ARENA_BYTES] __attribute__((aligned(4)));

typedef struct {
    uint32_t start, ticks[RP_MODEL_N_LAYERS], crc[RP_MODEL_N_LAYERS];
    int32_t bytes[RP_MODEL_N_LAYERS];
} layer_log;

static uint32_t crc_table[256];

static void crc_init(void) {
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
        crc_table[i] = c;
    }
}

static uint32_t crc32(const uint8_t *p, int32_t n) { /* zlib.crc32 */
    uint32_t c = 0xFFFFFFFFu;
    while (n-- > 0) c = crc_table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return ~c;
}

/* Timing covers the kernel only: the CRC runs after the END tick is taken. */
static void hook(void *user, int32_t layer, int32_t end, const void *data, int32_t bytes) {
    const uint32_t now = rp_ticks();
    layer_log *log = user;
    if (!end) {
        log->start = now;
        return;
    }
    log->ticks[layer] = now - log->start;
    log->bytes[layer] = bytes;
    log->crc[layer] = crc32(data, bytes);
}

/* A tiny formatter: semihosting SYS_WRITE0 takes one NUL-terminated string per call. */
static char line[160];
static int32_t pos;

static void put_str(const char *s) {
    while (*s && pos < (int32_t)sizeof line - 1) line[pos++] = *s++;
}

static void put_num(uint32_t v, int hex) {
    char digits[12];
    int n = 0;
    do {
        digits[n++] = "0123456789abcdef"[hex ? v & 15u : v % 10u];
        v = hex ? v >> 4 : v / 10u;
    } while (v);
    while (hex && n < 8) digits[n++] = '0';
    while (n) line[pos < (int32_t)sizeof line - 1 ? pos++ : pos] = digits[--n];
}

static void put_int(int32_t v) {
    if (v < 0) put_str("-");
    put_num(v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v, 0);
}

static void end_line(void) {
    line[pos++] = '\n';
    line[pos] = 0;
    rp_puts(line);
    pos = 0;
}

int main(void) {
    static layer_log log;
    rp_board_init();
    crc_init();
    memcpy(arena + rp_model.input_offset, selftest_image, sizeof selftest_image);
    int32_t n_cand = 0;
    const uint32_t t0 = rp_ticks();
    const rp_status st = rp_model_run(arena, hook, &log, &n_cand);
    const uint32_t total = rp_ticks() - t0;
    uint32_t id_len = 0;
    const uint8_t *id = rp_build_id(&id_len);
    put_str("selftest 1 model ");
    put_str(RP_MODEL_ID);
    put_str(" status ");
    put_int(st);
    put_str(" build-id ");
    for (uint32_t i = 0; i < id_len; i++) {
        line[pos++] = "0123456789abcdef"[id[i] >> 4];
        line[pos++] = "0123456789abcdef"[id[i] & 15u];
    }
    end_line();
    for (int32_t i = 0; i < RP_MODEL_N_LAYERS; i++) {
        put_str("layer ");
        put_str(rp_model.layers[i].name);
        put_str(" crc ");
        put_num(log.crc[i], 1);
        put_str(" ticks ");
        put_num(log.ticks[i], 0);
        put_str(" bytes ");
        put_int(log.bytes[i]);
        end_line();
    }
    const rp_candidate *cand = (const rp_candidate *)(arena + rp_model.candidates_offset);
    for (int32_t i = 0; i < n_cand && i < rp_model.max_candidates; i++) {
        put_str("candidate ");
        put_int(cand[i].prior);
        put_str(" ");
        put_int(cand[i].conf_bg);
        put_str(" ");
        put_int(cand[i].conf_face);
        for (int k = 0; k < 4; k++) {
            put_str(" ");
            put_int(cand[i].loc[k]);
        }
        end_line();
    }
    put_str("total ticks ");
    put_num(total, 0);
    put_str(" candidates ");
    put_int(n_cand);
    put_str(" arena ");
    put_int(RP_MODEL_ARENA_BYTES);
    put_str(" stack ");
    put_num(rp_stack_high_water(), 0);
    end_line();
    return st == RP_OK ? 0 : 1;
}
