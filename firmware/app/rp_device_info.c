/* rp_device_info: see rp_device_info.h. */
#include "rp_device_info.h"

#include "model_config.h"
#include "rp_frame.h"
#include "rp_messages.h"
#include "rp_model.h"
#include "rp_runtime.h"

#ifndef RP_BOARD_NAME
#define RP_BOARD_NAME "unknown"
#endif

typedef struct {
    char *p, *end;
} text;

static void put_str(text *t, const char *s) {
    while (*s && t->p < t->end) *t->p++ = *s++;
}

static void put_key_u32(text *t, const char *key, uint32_t v) {
    char digits[12];
    put_str(t, key);
    *rp_fmt_u32(digits, v, 0) = 0;
    put_str(t, digits);
}

/* rp_clock_status and the reset flags (rp_board_reset_flags bit order), as harness/protocol/session.py names them. */
static const char *const clock_status_names[] = {"not-set", "pll", "hse-timeout", "pll-timeout",
                                                 "overdrive-timeout", "flash-timeout", "switch-timeout",
                                                 "pll-no-overdrive"};
static const char *const reset_names[] = {"bor", "pin", "por", "sft", "iwdg", "wwdg", "lpwr"};

static void put_reset_flags(text *t, uint32_t flags) {
    if (!flags) put_str(t, "none");
    for (uint32_t i = 0, first = 1; i < 7u; i++)
        if (flags & (1u << i)) {
            if (!first) put_str(t, "+");
            put_str(t, reset_names[i]);
            first = 0;
        }
}

int32_t rp_device_info(char *out, int32_t n, const rp_device_info_values *v) {
    text t = {out, out + n};
    put_str(&t, "protocol=" RP_PROTOCOL_VERSION " model=" RP_MODEL_ID " build-id=");
    uint32_t id_len = 0;
    const uint8_t *id = rp_build_id(&id_len);
    for (uint32_t i = 0; i < id_len; i++) {
        const char hex[3] = {"0123456789abcdef"[id[i] >> 4], "0123456789abcdef"[id[i] & 15u], 0};
        put_str(&t, hex);
    }
    put_str(&t, " board=" RP_BOARD_NAME);
    put_key_u32(&t, " clock=", rp_board_clock_hz());
    const uint32_t status = (uint32_t)rp_board_clock_status();
    put_str(&t, " clock-status=");
    put_str(&t, status < sizeof clock_status_names / sizeof *clock_status_names ? clock_status_names[status] : "?");
    put_str(&t, " reset=");
    put_reset_flags(&t, rp_board_reset_flags());
    put_key_u32(&t, " watchdog-ms=", rp_watchdog_ms());
    put_key_u32(&t, " rx-dropped=", v->rx_dropped);
    put_key_u32(&t, " rx-errors=", v->rx_errors);
    put_str(&t, " ticks=" RP_TICKS_NAME);
    put_key_u32(&t, " ticks-hz=", rp_ticks_hz());
    put_key_u32(&t, " ticks-now=", v->ticks); /* two HELLOs measure the counter against the host's clock */
    put_key_u32(&t, " rx=", RP_UART_RX_SIZE);
    put_key_u32(&t, " chunk=", (uint32_t)v->chunk);
    put_key_u32(&t, " max-payload=", RP_FRAME_MAX_PAYLOAD);
    put_key_u32(&t, " input=", (uint32_t)rp_model.input_h);
    put_key_u32(&t, "x", (uint32_t)rp_model.input_w);
    put_key_u32(&t, " arena=", RP_MODEL_ARENA_BYTES);
    put_str(&t, " layers=");
    for (int32_t i = 0; i < rp_model.n_layers; i++) {
        if (i) put_str(&t, ",");
        put_str(&t, rp_model.layers[i].name);
    }
    put_key_u32(&t, " coded-ring=", RP_MODEL_UPLOAD_RING);
    put_key_u32(&t, " streamed=", (uint32_t)rp_model.n_streamed);
    put_str(&t, rp_model.n_streamed ? " caps=layer-dump,fault,read,rows,stream" : " caps=layer-dump,fault,read,rows");
    return (int32_t)(t.p - out);
}
