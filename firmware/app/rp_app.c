/* rp_app_begin, rp_app_stream, rp_app_finish, rp_app_infer and rp_app_report: see rp_app.h. */
#include "rp_app.h"

#include "rp_runtime.h"

static uint32_t crc_table[256];

/* zlib.crc32(bytes, prev): prev = 0 starts, a later call goes on over the next bytes */
static uint32_t crc32(uint32_t prev, const uint8_t *p, int32_t n) {
    if (!crc_table[1])
        for (uint32_t i = 0; i < 256; i++) {
            uint32_t c = i;
            for (int k = 0; k < 8; k++) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
            crc_table[i] = c;
        }
    uint32_t c = ~prev;
    while (n-- > 0) c = crc_table[(c ^ *p++) & 0xFFu] ^ (c >> 8);
    return ~c;
}

/* Test builds only (RP_TEST_FAULT_LAYER / RP_TEST_REBOOT_LAYER = a layer index): a precise BusFault, or a chip
 * reset, as that layer begins; tests/device and tests/harness check what the host makes of them. */
static void inject_test_failure(int32_t layer) {
#ifdef RP_TEST_FAULT_LAYER
    if (layer == RP_TEST_FAULT_LAYER) (void)*(volatile uint32_t *)0x60000000u; /* FSMC bank 1: nothing mapped */
#endif
#ifdef RP_TEST_REBOOT_LAYER
    if (layer == RP_TEST_REBOOT_LAYER) rp_board_reset();
#endif
    (void)layer;
}

/* The CRC (and `after`) run after the END tick is taken and before the next BEGIN, so a layer's count is its kernel
 * alone. The watchdog is fed between layers, and a fault report names the layer that was running. While a layer
 * runs after RUN the UART's receive interrupt waits; in the bands of a streamed upload it runs (the upload goes on:
 * on silicon the USART holds one byte), and the ticks it took are taken off the band's (rp_ticks_and_isr), so a
 * layer counts the same instructions on QEMU whether or not bytes arrived while it ran. */
static void hook(void *user, int32_t layer, int32_t end, const void *data, int32_t bytes) {
    uint32_t isr;
    const uint32_t now = rp_ticks_and_isr(&isr);
    rp_app_run *run = user;
    if (!end) {
        rp_watchdog_feed();
        rp_fault_context = (uint32_t)layer;
        inject_test_failure(layer);
        if (!run->streaming) rp_uart_rx_hold(1); /* no byte comes now: the host waits for the RESULT */
        run->start = rp_ticks_and_isr(&run->isr_start);
        return;
    }
    if (end == 4) { /* a streamed layer's whole output, after its last band: readable unless the image streamed */
        if (run->after && !run->streaming) run->after(run, layer, data, bytes);
        return;
    }
    rp_uart_rx_hold(0);
    rp_fault_context = RP_FAULT_NO_CONTEXT;
    run->ticks[layer] += now - run->start - (isr - run->isr_start);
    if (end == 2) return; /* a part: more of the layer runs later (rp_model.h) */
    if (end == 3) {      /* a band of a streamed layer's rows: its fingerprint goes on */
        run->crc[layer] = crc32(run->crc[layer], data, bytes);
        run->bytes[layer] += bytes;
        return;
    }
    run->bytes[layer] = bytes;
    run->crc[layer] = crc32(0, data, bytes);
    if (run->after) run->after(run, layer, data, bytes);
}

void rp_app_begin(rp_app_run *run) {
    rp_ticks_arm(); /* a debugger may have stopped the DWT since the last run */
    run->n_candidates = 0;
    run->status = RP_OK;
    run->streaming = 0;
    for (int32_t i = 0; i < RP_MODEL_N_LAYERS; i++) run->ticks[i] = run->crc[i] = 0, run->bytes[i] = 0;
    for (int32_t i = 0; i < RP_MODEL_N_STREAMED; i++) run->done[i] = 0;
}

void rp_app_stream(uint8_t *arena, rp_app_run *run, int32_t rows) {
    if (run->status != RP_OK) return;
    run->streaming = 1;
    run->status = rp_model_stream(arena, rows, run->done, hook, run);
    run->streaming = 0;
}

/* The total is the layers' sum: the fingerprints the hook computes between layers are measurement, not model. */
void rp_app_finish(uint8_t *arena, rp_app_run *run, int32_t streamed) {
    if (run->status == RP_OK) {
        rp_ticks_arm();
        run->status = rp_model_run(arena, streamed, hook, run, &run->n_candidates);
    }
    run->total = 0;
    for (int32_t i = 0; i < RP_MODEL_N_LAYERS; i++) run->total += run->ticks[i];
}

void rp_app_infer(uint8_t *arena, rp_app_run *run) {
    rp_app_begin(run);
    rp_app_finish(arena, run, 0);
}

/* A tiny line formatter (no printf: newlib's would add ~20 KB of flash). */
typedef struct {
    char text[160];
    int32_t n;
} line_buf;

static void put_str(line_buf *l, const char *s) {
    while (*s && l->n < (int32_t)sizeof l->text - 2) l->text[l->n++] = *s++;
}

static void put_num(line_buf *l, uint32_t v, int hex) {
    if (l->n < (int32_t)sizeof l->text - 12) l->n = (int32_t)(rp_fmt_u32(l->text + l->n, v, hex) - l->text);
}

static void put_int(line_buf *l, int32_t v) {
    if (v < 0) put_str(l, "-");
    put_num(l, v < 0 ? (uint32_t)(-(int64_t)v) : (uint32_t)v, 0);
}

static void flush(line_buf *l, void (*put_line)(const char *)) {
    l->text[l->n++] = '\n';
    l->text[l->n] = 0;
    put_line(l->text);
    l->n = 0;
}

void rp_app_report(const uint8_t *arena, const rp_app_run *run, void (*put_line)(const char *line)) {
    line_buf l = {.n = 0};
    uint32_t id_len = 0;
    const uint8_t *id = rp_build_id(&id_len);
    put_str(&l, "selftest 1 model " RP_MODEL_ID " status ");
    put_int(&l, run->status);
    put_str(&l, " build-id ");
    for (uint32_t i = 0; i < id_len; i++) {
        const char hex[3] = {"0123456789abcdef"[id[i] >> 4], "0123456789abcdef"[id[i] & 15u], 0};
        put_str(&l, hex);
    }
    flush(&l, put_line);
    for (int32_t i = 0; i < RP_MODEL_N_LAYERS; i++) {
        put_str(&l, "layer ");
        put_str(&l, rp_model.layers[i].name);
        put_str(&l, " crc ");
        put_num(&l, run->crc[i], 1);
        put_str(&l, " ticks ");
        put_num(&l, run->ticks[i], 0);
        put_str(&l, " bytes ");
        put_int(&l, run->bytes[i]);
        flush(&l, put_line);
    }
    const rp_candidate *cand = (const rp_candidate *)(arena + rp_model.candidates_offset);
    for (int32_t i = 0; i < run->n_candidates && i < rp_model.max_candidates; i++) {
        put_str(&l, "candidate ");
        put_int(&l, cand[i].prior);
        const int16_t v[6] = {cand[i].conf_bg, cand[i].conf_face, cand[i].loc[0], cand[i].loc[1], cand[i].loc[2],
                              cand[i].loc[3]};
        for (int k = 0; k < 6; k++) {
            put_str(&l, " ");
            put_int(&l, v[k]);
        }
        flush(&l, put_line);
    }
    put_str(&l, "total ticks ");
    put_num(&l, run->total, 0);
    put_str(&l, " candidates ");
    put_int(&l, run->n_candidates);
    put_str(&l, " arena ");
    put_int(&l, RP_MODEL_ARENA_BYTES);
    put_str(&l, " stack ");
    put_num(&l, rp_stack_high_water(), 0);
    flush(&l, put_line);
}
