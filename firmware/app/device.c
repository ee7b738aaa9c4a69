/* Device firmware: the framed serial protocol's server (docs/protocol.md). It announces itself with an unsolicited
 * HELLO_REPLY, then answers one request at a time: image chunks into the arena, RUN (optionally pausing after one
 * layer so the host can read its whole output), layer reads, and HELLO again whenever asked. */
#include "rp_app.h"
#include "rp_frame.h"
#include "rp_runtime.h"

#ifndef RP_BOARD_NAME
#define RP_BOARD_NAME "unknown"
#endif

enum {
    K_HELLO = 1, K_HELLO_REPLY, K_IMAGE_CHUNK, K_ACK, K_NAK, K_RESULT, K_LAYER_REQUEST, K_LAYER_DATA, K_ERROR,
    K_RUN, K_LAYER_READY, K_RESUME, K_FAULT
};
#define NO_LAYER 0xFFFFu
/* A chunk's whole frame (offset, data, header, CRC, stuffing, delimiters) fits half the receive ring. */
#define CHUNK (RP_UART_RX_SIZE / 2 - 32)

static uint8_t arena[RP_MODEL_ARENA_BYTES] __attribute__((aligned(4)));
/* CPU-only buffers: core-coupled RAM where the board has it, leaving SRAM to the arena. */
static rp_frame_decoder decoder RP_CCMRAM;
static uint8_t wire[RP_FRAME_WIRE_MAX(RP_FRAME_MAX_PAYLOAD)] RP_CCMRAM;
static uint8_t out[RP_FRAME_MAX_PAYLOAD] RP_CCMRAM;
static rp_app_run run;

static struct {
    int32_t image_fresh;    /* an IMAGE_CHUNK arrived since the last RUN (a run consumes the image) */
    int32_t last_run_seq;   /* -1 until a RUN; reset by IMAGE_CHUNK so only a retransmitted RUN matches */
    int32_t run_done;
    uint32_t dump_layer;
    int32_t readable_layer; /* the layer whose output is intact in the arena, or -1 */
    const uint8_t *readable_data;
    int32_t readable_bytes;
} st = {0, -1, 0, NO_LAYER, -1, 0, 0};

static uint32_t get_u32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t get_u16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_u16(uint8_t *p, uint32_t v) {
    *p++ = (uint8_t)v;
    *p++ = (uint8_t)(v >> 8);
    return p;
}

static void send(uint8_t kind, uint8_t seq, const uint8_t *payload, int32_t n) {
    const int32_t len = rp_frame_encode(kind, seq, payload, n, wire, (int32_t)sizeof wire);
    if (len > 0) rp_uart_write(wire, len);
}

static void send_error(uint8_t seq, const char *message) {
    int32_t n = 0;
    while (message[n] && n < RP_FRAME_MAX_PAYLOAD) n++;
    send(K_ERROR, seq, (const uint8_t *)message, n);
}

/* Blocks until an intact frame arrives; every packet the decoder drops is NAKed so the host resends at once. */
static void receive(rp_frame *frame) {
    for (;;) {
        uint8_t byte;
        rp_watchdog_feed(); /* waiting for the host is not a hang */
        if (rp_uart_read(&byte, 1) != 1) continue;
        const uint32_t dropped = decoder.dropped;
        if (rp_frame_feed(&decoder, byte, frame)) return;
        if (decoder.dropped != dropped) {
            uint8_t p[4];
            put_u32(p, decoder.dropped);
            send(K_NAK, 0, p, 4);
        }
    }
}

/* ---- HELLO_REPLY: key=value text -------------------------------------------------------------------------- */

static char *put_str(char *p, const char *s) {
    while (*s && p < (char *)out + sizeof out - 1) *p++ = *s++;
    return p;
}

static char *put_key_u32(char *p, const char *key, uint32_t v) {
    p = put_str(p, key);
    return rp_fmt_u32(p, v, 0);
}

/* rp_clock_status and the reset flags (rp_board_reset_flags bit order), as harness/protocol/session.py names them. */
static const char *const clock_status_names[] = {"not-set", "pll", "hse-timeout", "pll-timeout",
                                                 "overdrive-timeout", "flash-timeout", "switch-timeout",
                                                 "pll-no-overdrive"};
static const char *const reset_names[] = {"bor", "pin", "por", "sft", "iwdg", "wwdg", "lpwr"};

static char *put_reset_flags(char *p, uint32_t flags) {
    if (!flags) return put_str(p, "none");
    for (uint32_t i = 0, first = 1; i < 7u; i++)
        if (flags & (1u << i)) {
            if (!first) p = put_str(p, "+");
            p = put_str(p, reset_names[i]);
            first = 0;
        }
    return p;
}

/* The boot banner carries boot=1: the host tells a reboot from a late answer to one of its own HELLOs by it. */
static void send_hello(uint8_t seq, int banner) {
    char *p = put_str((char *)out, "protocol=1 model=" RP_MODEL_ID " build-id=");
    uint32_t id_len = 0;
    const uint8_t *id = rp_build_id(&id_len);
    for (uint32_t i = 0; i < id_len; i++) {
        *p++ = "0123456789abcdef"[id[i] >> 4];
        *p++ = "0123456789abcdef"[id[i] & 15u];
    }
    p = put_str(p, " board=" RP_BOARD_NAME);
    p = put_key_u32(p, " clock=", rp_board_clock_hz());
    const uint32_t status = (uint32_t)rp_board_clock_status();
    p = put_str(p, " clock-status=");
    p = put_str(p, status < sizeof clock_status_names / sizeof *clock_status_names ? clock_status_names[status] : "?");
    p = put_str(p, " reset=");
    p = put_reset_flags(p, rp_board_reset_flags());
    p = put_key_u32(p, " watchdog-ms=", rp_watchdog_ms());
    p = put_key_u32(p, " rx-dropped=", rp_uart_rx_dropped());
    p = put_key_u32(p, " rx-errors=", rp_uart_rx_errors());
    p = put_str(p, RP_TICKS_DWT ? " ticks=dwt" : " ticks=tim2");
    p = put_key_u32(p, " ticks-hz=", rp_ticks_hz());
    p = put_key_u32(p, " ticks-now=", rp_ticks()); /* two HELLOs measure the counter against the host's clock */
    p = put_key_u32(p, " rx=", RP_UART_RX_SIZE);
    p = put_key_u32(p, " chunk=", CHUNK);
    p = put_key_u32(p, " max-payload=", RP_FRAME_MAX_PAYLOAD);
    p = put_key_u32(p, " input=", (uint32_t)rp_model.input_h);
    p = put_key_u32(p, "x", (uint32_t)rp_model.input_w);
    p = put_key_u32(p, " arena=", RP_MODEL_ARENA_BYTES);
    p = put_str(p, " layers=");
    for (int32_t i = 0; i < rp_model.n_layers; i++) {
        if (i) p = put_str(p, ",");
        p = put_str(p, rp_model.layers[i].name);
    }
    p = put_str(p, " caps=layer-dump,fault");
    if (banner) p = put_str(p, " boot=1");
    send(K_HELLO_REPLY, seq, out, (int32_t)(p - (char *)out));
}

/* ---- Requests ------------------------------------------------------------------------------------------------ */

static void send_result(uint8_t seq) {
    uint8_t *p = out;
    p = put_u32(p, (uint32_t)run.status);
    p = put_u32(p, run.total);
    p = put_u32(p, (uint32_t)run.n_candidates);
    p = put_u32(p, RP_MODEL_ARENA_BYTES);
    p = put_u32(p, rp_stack_high_water());
    p = put_u16(p, RP_MODEL_N_LAYERS);
    for (int32_t i = 0; i < RP_MODEL_N_LAYERS; i++) {
        p = put_u32(p, run.crc[i]);
        p = put_u32(p, run.ticks[i]);
        p = put_u32(p, (uint32_t)run.bytes[i]);
    }
    send(K_RESULT, seq, out, (int32_t)(p - out));
}

static void image_chunk(const rp_frame *f) {
    const int32_t size = rp_model.input_h * rp_model.input_w;
    const uint32_t offset = f->length >= 4 ? get_u32(f->payload) : 0;
    const int32_t n = f->length - 4;
    if (f->length < 5 || n > CHUNK || offset > (uint32_t)size || (uint32_t)n > (uint32_t)size - offset) {
        send_error(f->seq, "image chunk outside the input image");
        return;
    }
    uint8_t *dst = arena + rp_model.input_offset + offset;
    for (int32_t i = 0; i < n; i++) dst[i] = f->payload[4 + i];
    st.image_fresh = 1;
    st.last_run_seq = -1;
    st.readable_layer = -1;
    uint8_t p[4];
    put_u32(p, offset);
    send(K_ACK, f->seq, p, 4);
}

static void layer_request(const rp_frame *f) {
    if (f->length != 8) {
        send_error(f->seq, "layer request: expected layer u16, offset u32, length u16");
        return;
    }
    const uint32_t layer = get_u16(f->payload), offset = get_u32(f->payload + 2), n = get_u16(f->payload + 6);
    if ((int32_t)layer != st.readable_layer) {
        send_error(f->seq, "layer not readable now: read the last layer after a run, or dump it with RUN");
        return;
    }
    if (n > RP_FRAME_MAX_PAYLOAD - 6 || offset > (uint32_t)st.readable_bytes ||
        n > (uint32_t)st.readable_bytes - offset) {
        send_error(f->seq, "layer request outside the layer's output");
        return;
    }
    uint8_t *p = put_u32(put_u16(out, layer), offset);
    for (uint32_t i = 0; i < n; i++) *p++ = st.readable_data[offset + i];
    send(K_LAYER_DATA, f->seq, out, (int32_t)(p - out));
}

static uint8_t run_seq;

static void send_layer_ready(uint8_t seq) {
    uint8_t p[6];
    put_u32(put_u16(p, st.dump_layer), (uint32_t)st.readable_bytes);
    send(K_LAYER_READY, seq, p, 6);
}

/* After every layer: its output is the readable one; at the dump layer, serve reads until RESUME. */
static void after_layer(rp_app_run *r, int32_t layer, const void *data, int32_t bytes) {
    (void)r;
    st.readable_layer = layer;
    st.readable_data = data;
    st.readable_bytes = bytes;
    if ((uint32_t)layer != st.dump_layer) return;
    send_layer_ready(run_seq);
    for (;;) {
        rp_frame f;
        receive(&f);
        if (f.kind == K_LAYER_REQUEST) layer_request(&f);
        else if (f.kind == K_HELLO) send_hello(f.seq, 0);
        else if (f.kind == K_RUN && f.seq == run_seq) { /* the host missed the ACK or LAYER_READY */
            send(K_ACK, f.seq, 0, 0);
            send_layer_ready(f.seq);
        } else if (f.kind == K_RESUME) {
            send(K_ACK, f.seq, 0, 0);
            return;
        } else send_error(f.seq, "paused in a run: send LAYER_REQUEST or RESUME");
    }
}

static void run_model(const rp_frame *f) {
    if (f->seq == st.last_run_seq && st.run_done) { /* a retransmitted RUN: answer again, do not rerun */
        send(K_ACK, f->seq, 0, 0);
        send_result(f->seq);
        return;
    }
    if (!st.image_fresh) {
        send_error(f->seq, "no image: send IMAGE_CHUNKs before each RUN (a run overwrites its input)");
        return;
    }
    st.dump_layer = f->length >= 2 ? get_u16(f->payload) : NO_LAYER;
    st.image_fresh = 0;
    st.last_run_seq = f->seq;
    st.run_done = 0;
    run_seq = f->seq;
    send(K_ACK, f->seq, 0, 0);
    rp_app_infer(arena, &run);
    st.run_done = 1;
    send_result(f->seq);
}

/* A fault as a FAULT frame (docs/protocol.md): the host fails the run at once, naming the layer. Runs on the fault
 * stack; `wire` may hold a half-sent frame, which the leading delimiter of this one ends. */
void rp_fault_sink(const rp_fault *f) {
    uint8_t p[40], *q = p;
    const uint32_t words[10] = {f->exception, f->pc, f->lr, f->psr, f->cfsr, f->hfsr, f->mmfar, f->bfar,
                                f->exc_return, f->context};
    for (int i = 0; i < 10; i++) q = put_u32(q, words[i]);
    send(K_FAULT, 0, p, (int32_t)(q - p));
    rp_uart_flush();
}

int main(void) {
    rp_board_init();
    run.after = after_layer;
    send_hello(0, 1); /* the banner */
    for (;;) {
        rp_frame f;
        receive(&f);
        switch (f.kind) {
        case K_HELLO: send_hello(f.seq, 0); break;
        case K_IMAGE_CHUNK: image_chunk(&f); break;
        case K_RUN: run_model(&f); break;
        case K_LAYER_REQUEST: layer_request(&f); break;
        case K_RESUME: send_error(f.seq, "no paused run to resume"); break;
        default: send_error(f.seq, "unknown request kind");
        }
    }
}
