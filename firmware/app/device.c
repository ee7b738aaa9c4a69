/* Device firmware: the framed serial protocol's server (docs/protocol.md). It announces itself with a short
 * unsolicited HELLO_REPLY, then answers requests in the order they arrive: an upload (raw or row-coded) into the
 * arena, RUN (optionally pausing after one layer so the host can read its whole output), layer reads, reads of its
 * own information and result records in pieces the host sizes (small ones on a noisy line), and HELLO whenever
 * asked. */
#include "rp_app.h"
#include "rp_device_info.h"
#include "rp_frame.h"
#include "rp_messages.h"
#include "rp_runtime.h"
#include "rp_upload.h"

/* A chunk's whole frame (offset, data, header, CRC, stuffing, delimiters) fits half the receive ring. */
#define CHUNK (RP_UART_RX_SIZE / 2 - 32)

static uint8_t arena[RP_MODEL_ARENA_BYTES] __attribute__((aligned(4)));
/* CPU-only buffers: core-coupled RAM where the board has it, leaving SRAM to the arena. */
static rp_frame_decoder decoder RP_CCMRAM;
static uint8_t wire[RP_FRAME_WIRE_MAX(RP_FRAME_MAX_PAYLOAD)] RP_CCMRAM;
static uint8_t out[RP_FRAME_MAX_PAYLOAD] RP_CCMRAM;
static uint8_t object[RP_FRAME_MAX_PAYLOAD] RP_CCMRAM; /* the info text or the result record, read in pieces */
static rp_app_run run;
/* The upload's reorder ring lives in the arena beside the input: the planner keeps it there while nothing runs. */
static rp_upload upload = {0, 0, 0, arena + RP_MODEL_UPLOAD_OFFSET, RP_MODEL_UPLOAD_RING, -1, 0, 0, 0, 0};

static struct {
    int32_t image_fresh;    /* an IMAGE_CHUNK arrived since the last RUN (a run consumes the image) */
    int32_t streamed;       /* the upload runs the streamed layers as its rows arrive (RP_CODEC_STREAM) */
    int32_t last_run_seq;   /* -1 until a RUN; reset by IMAGE_CHUNK so only a retransmitted RUN matches */
    int32_t run_done;
    uint32_t dump_layer;
    int32_t readable_layer; /* the layer whose output is intact in the arena, or -1 */
    const uint8_t *readable_data;
    int32_t readable_bytes;
    uint32_t accepted[RP_ACK_HISTORY]; /* offsets of the last image chunks written, newest first */
    int32_t n_accepted;
    uint32_t info_ticks, info_dropped, info_errors; /* the values of the last HELLO: its pieces agree */
} st = {0, 0, -1, 0, RP_NO_LAYER, -1, 0, 0, {0}, 0, 0, 0, 0};

static uint32_t get_u32(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24; }
static uint32_t get_u16(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8; }
static uint32_t get_u24(const uint8_t *p) { return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16; }

static uint8_t *put_u32(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 4; i++) *p++ = (uint8_t)(v >> (8 * i));
    return p;
}

static uint8_t *put_u24(uint8_t *p, uint32_t v) {
    for (int i = 0; i < 3; i++) *p++ = (uint8_t)(v >> (8 * i));
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
    send(RP_MSG_ERROR, seq, (const uint8_t *)message, n);
}

/* Blocks until an intact frame arrives. A dropped packet is NAKed so the host can resend before its timeout, but
 * only when no intact frame follows it before the line goes quiet (NAK_QUIET): in a stream of image chunks the next
 * chunk's ACK already tells the host what was lost, and a NAK would only cost the line its bytes. At most one NAK per
 * intact frame, or per 100 ms while nothing intact arrives: garbage on the line cannot make the device flood it, and
 * a host whose every frame is damaged still hears that the device is alive. The NAK carries the seq of the last
 * intact frame, so the host tells a request that got through from one that did not. */
#define NAK_QUIET(hz) ((hz) / 200u) /* 5 ms without a byte */
static void receive(rp_frame *frame) {
    static int32_t nak_armed = 1, nak_pending;
    static uint8_t last_seq;
    static uint32_t last_nak, last_byte, pending_since;
    for (;;) {
        uint8_t byte;
        rp_watchdog_feed(); /* waiting for the host is not a hang */
        /* The timer is read only while a NAK waits: on QEMU each read is a trip to the emulator, and this spins. */
        const int32_t got = rp_uart_read(&byte, 1) == 1;
        if (got) {
            const uint32_t dropped = decoder.dropped;
            if (rp_frame_feed(&decoder, byte, frame)) {
                nak_armed = 1;
                nak_pending = 0;
                last_seq = frame->seq;
                return;
            }
            if (decoder.dropped != dropped && !nak_pending) {
                nak_pending = 1;
                pending_since = rp_ticks();
            }
            if (nak_pending) last_byte = rp_ticks();
        }
        if (!nak_pending) { /* nothing to time: sleep until a byte comes (a NAK's quiet time needs the timer) */
            rp_uart_wait();
            continue;
        }
        const uint32_t now = rp_ticks(), hz = rp_ticks_hz();
        const int32_t due = now - last_byte > NAK_QUIET(hz) || now - pending_since > hz / 10u;
        if (due && (nak_armed || now - last_nak > hz / 10u)) {
            uint8_t p[4];
            put_u32(p, decoder.dropped);
            send(RP_MSG_NAK, last_seq, p, 4);
            nak_armed = nak_pending = 0;
            last_nak = now;
        }
    }
}

/* A piece of an object (the info text, the result record): prefix bytes, then object[offset, offset + n). */
static void send_piece(uint8_t kind, uint8_t seq, const uint8_t *prefix, int32_t n_prefix, int32_t offset,
                       int32_t n) {
    uint8_t *p = out;
    for (int32_t i = 0; i < n_prefix; i++) *p++ = prefix[i];
    for (int32_t i = 0; i < n; i++) *p++ = object[offset + i];
    send(kind, seq, out, (int32_t)(p - out));
}

/* The answer size a request asks for (its max_answer u16; 0 or absent: as much as a frame holds). */
static int32_t answer_room(uint32_t max_answer, int32_t prefix) {
    const int32_t cap = RP_FRAME_MAX_PAYLOAD;
    const int32_t want = max_answer && (int32_t)max_answer < cap ? (int32_t)max_answer : cap;
    return want > prefix ? want - prefix : 0;
}

/* The info text (HELLO_REPLY's keys, rp_device_info.h) into `object`, from the values the last HELLO took, so the
 * pieces of one text agree; returns its length. */
static int32_t build_info(void) {
    const rp_device_info_values values = {st.info_ticks, st.info_dropped, st.info_errors, CHUNK};
    return rp_device_info((char *)object, (int32_t)sizeof object, &values);
}

/* HELLO_REPLY: flags u8 (1: the boot banner), the info text's total length u16, its first bytes (as many as the
 * HELLO's max_answer u16 allows; none in the banner, which must get through a noisy line). The banner is how the
 * host tells a reboot from a late answer to one of its own HELLOs. */
static void send_hello(uint8_t seq, int banner, uint32_t max_answer) {
    st.info_ticks = rp_ticks();
    st.info_dropped = rp_uart_rx_dropped();
    st.info_errors = rp_uart_rx_errors();
    const int32_t total = build_info();
    const int32_t room = banner ? 0 : answer_room(max_answer, 3);
    const uint8_t head[3] = {(uint8_t)(banner ? 1 : 0), (uint8_t)total, (uint8_t)(total >> 8)};
    send_piece(RP_MSG_HELLO_REPLY, seq, head, 3, 0, room < total ? room : total);
}

/* ---- Requests ------------------------------------------------------------------------------------------------ */

/* The result record into `object`; returns its length. */
static int32_t build_result(void) {
    uint8_t *p = object;
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
    return (int32_t)(p - object);
}

/* RESULT: the record's total length u16, then its first bytes (as many as the RUN's max_answer allows). */
static void send_result(uint8_t seq, uint32_t max_answer) {
    const int32_t total = build_result(), room = answer_room(max_answer, 2);
    const uint8_t head[2] = {(uint8_t)total, (uint8_t)(total >> 8)};
    send_piece(RP_MSG_RESULT, seq, head, 2, 0, room < total ? room : total);
}

/* READ: object u8, offset u16, length u16 → DATA: object u8, offset u16, the bytes. The info text is the last
 * HELLO's; the result record is the last run's. */
static void read_object(const rp_frame *f) {
    if (f->length != 5 || (f->payload[0] != RP_OBJ_INFO && f->payload[0] != RP_OBJ_RESULT)) {
        send_error(f->seq, "read: expected object u8 (1 info, 2 result), offset u16, length u16");
        return;
    }
    const uint32_t which = f->payload[0], offset = get_u16(f->payload + 1), n = get_u16(f->payload + 3);
    if (which == RP_OBJ_RESULT && !st.run_done) {
        send_error(f->seq, "read: no result yet");
        return;
    }
    const uint32_t total = (uint32_t)(which == RP_OBJ_INFO ? build_info() : build_result());
    if (offset > total || n > total - offset || n > RP_FRAME_MAX_PAYLOAD - 3u) {
        send_error(f->seq, "read outside the object");
        return;
    }
    const uint8_t head[3] = {(uint8_t)which, (uint8_t)offset, (uint8_t)(offset >> 8)};
    send_piece(RP_MSG_DATA, f->seq, head, 3, (int32_t)offset, (int32_t)n);
}

/* The image may change from here on: the last run's answers and the readable layer go. */
static void image_changing(void) {
    st.image_fresh = 1;
    st.last_run_seq = -1;
    st.readable_layer = -1;
}

/* IMAGE_START: codec u8 (RP_CODEC_, plus RP_CODEC_STREAM to run the streamed layers as rows arrive), the stream's
 * bytes u24 → ACK (empty). Resent, it starts over again: the host sends no chunk before its ACK. */
static void image_start(const rp_frame *f) {
    upload.image = arena + rp_model.input_offset;
    upload.h = rp_model.input_h;
    upload.w = rp_model.input_w;
    const int32_t codec = f->length ? f->payload[0] & ~RP_CODEC_STREAM : -1;
    const int32_t streamed = f->length && (f->payload[0] & RP_CODEC_STREAM);
    if (f->length != 1 + RP_OFFSET_BYTES || rp_upload_start(&upload, codec, get_u24(f->payload + 1)) ||
        (streamed && (codec != RP_CODEC_ROWS || !rp_model.n_streamed))) {
        upload.codec = -1;
        send_error(f->seq, "image start: expected codec u8 (0 raw, 1 rows; + 0x80 streamed: rows only) and the "
                           "stream's bytes u24 (raw: H*W)");
        return;
    }
    st.n_accepted = 0;
    st.streamed = streamed;
    if (streamed) rp_app_begin(&run);
    image_changing();
    send(RP_MSG_ACK, f->seq, 0, 0);
}

static void image_chunk(const rp_frame *f) {
    const uint32_t offset = f->length >= RP_OFFSET_BYTES ? get_u24(f->payload) : 0;
    const int32_t n = f->length - RP_OFFSET_BYTES;
    const int32_t status = upload.codec < 0 || n > CHUNK ? RP_UPLOAD_OUTSIDE
                           : rp_upload_chunk(&upload, offset, f->payload + RP_OFFSET_BYTES, n);
    if (status) {
        send_error(f->seq, status == RP_UPLOAD_BEYOND_RING ? "image chunk beyond the coded ring (coded-ring=)"
                           : status == RP_UPLOAD_BAD_ROW   ? "image chunk: a malformed coded row"
                           : upload.codec < 0              ? "image chunk before IMAGE_START"
                                                           : "image chunk outside the upload's stream");
        upload.codec = -1;
        return;
    }
    image_changing();
    int32_t keep = st.n_accepted < RP_ACK_HISTORY ? st.n_accepted : RP_ACK_HISTORY - 1;
    for (int32_t i = keep; i > 0; i--) st.accepted[i] = st.accepted[i - 1];
    st.accepted[0] = offset;
    st.n_accepted = keep + 1;
    uint8_t p[RP_OFFSET_BYTES * RP_ACK_HISTORY], *q = p;
    for (int32_t i = 0; i < st.n_accepted; i++) q = put_u24(q, st.accepted[i]);
    send(RP_MSG_ACK, f->seq, p, (int32_t)(q - p));
    /* after the ACK, so the host's next chunks come in while the rows run; a row runs once, when decoded */
    if (st.streamed) rp_app_stream(arena, &run, upload.row);
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
    send(RP_MSG_LAYER_DATA, f->seq, out, (int32_t)(p - out));
}

static uint8_t run_seq;

static void send_layer_ready(uint8_t seq) {
    uint8_t p[6];
    put_u32(put_u16(p, st.dump_layer), (uint32_t)st.readable_bytes);
    send(RP_MSG_LAYER_READY, seq, p, 6);
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
        if (f.kind == RP_MSG_LAYER_REQUEST) layer_request(&f);
        else if (f.kind == RP_MSG_HELLO) send_hello(f.seq, 0, f.length >= 2 ? get_u16(f.payload) : 0);
        else if (f.kind == RP_MSG_RUN && f.seq == run_seq) { /* the host missed the ACK or LAYER_READY */
            send(RP_MSG_ACK, f.seq, 0, 0);
            send_layer_ready(f.seq);
        } else if (f.kind == RP_MSG_RESUME) {
            send(RP_MSG_ACK, f.seq, 0, 0);
            return;
        } else send_error(f.seq, "paused in a run: send LAYER_REQUEST or RESUME");
    }
}

/* RUN: dump_layer u16 (RP_NO_LAYER: none), image_crc u32 (zlib CRC-32 of the whole input image), max_answer u16. The
 * CRC makes a hole in the upload (a reboot half-way, a chunk the host wrongly took for delivered) an ERROR instead
 * of a wrong result. */
static void run_model(const rp_frame *f) {
    if (f->length != 8) {
        send_error(f->seq, "run: expected dump_layer u16, image_crc u32, max_answer u16 (protocol 3)");
        return;
    }
    const uint32_t max_answer = get_u16(f->payload + 6);
    if (f->seq == st.last_run_seq && st.run_done) { /* a retransmitted RUN: answer again, do not rerun */
        send(RP_MSG_ACK, f->seq, 0, 0);
        send_result(f->seq, max_answer);
        return;
    }
    if (!st.image_fresh || upload.codec < 0) {
        send_error(f->seq, "no image: upload one before each RUN (a run overwrites its input)");
        return;
    }
    if (!rp_upload_complete(&upload)) {
        send_error(f->seq, "image incomplete: rows of the coded upload are missing");
        return;
    }
    const int32_t size = rp_model.input_h * rp_model.input_w;
    const uint32_t crc = upload.codec == RP_CODEC_ROWS ? upload.crc /* the rows as decoded: a streamed run has */
                                                       : rp_crc32(0, arena + rp_model.input_offset, size);
    if (crc != get_u32(f->payload + 2)) {                /* overwritten them since */
        send_error(f->seq, "image crc mismatch: the image on the device is not the one sent");
        return;
    }
    if (st.streamed && get_u16(f->payload) < (uint32_t)rp_model.n_streamed) {
        send_error(f->seq, "run: that layer ran while the image streamed in; upload it without streaming to dump it");
        return;
    }
    st.dump_layer = get_u16(f->payload);
    st.image_fresh = 0;
    upload.codec = -1; /* the run consumes the image and overwrites the ring */
    st.last_run_seq = f->seq;
    st.run_done = 0;
    run_seq = f->seq;
    send(RP_MSG_ACK, f->seq, 0, 0);
    if (st.streamed) rp_app_finish(arena, &run, 1);
    else rp_app_infer(arena, &run);
    st.streamed = 0;
    st.run_done = 1;
    send_result(f->seq, max_answer);
}

/* A fault as a FAULT frame (docs/protocol.md): the host fails the run at once, naming the layer. Runs on the fault
 * stack; `wire` may hold a half-sent frame, which the leading delimiter of this one ends. */
void rp_fault_sink(const rp_fault *f) {
    uint8_t p[40], *q = p;
    const uint32_t words[10] = {f->exception, f->pc, f->lr, f->psr, f->cfsr, f->hfsr, f->mmfar, f->bfar,
                                f->exc_return, f->context};
    for (int i = 0; i < 10; i++) q = put_u32(q, words[i]);
    for (int i = 0; i < 3; i++) send(RP_MSG_FAULT, 0, p, (int32_t)(q - p)); /* the host needs one intact copy */
    rp_uart_flush();
}

int main(void) {
    rp_board_init();
    run.after = after_layer;
    send_hello(0, 1, 0); /* the banner */
    for (;;) {
        rp_frame f;
        receive(&f);
        switch (f.kind) {
        case RP_MSG_HELLO: send_hello(f.seq, 0, f.length >= 2 ? get_u16(f.payload) : 0); break;
        case RP_MSG_IMAGE_START: image_start(&f); break;
        case RP_MSG_IMAGE_CHUNK: image_chunk(&f); break;
        case RP_MSG_RUN: run_model(&f); break;
        case RP_MSG_LAYER_REQUEST: layer_request(&f); break;
        case RP_MSG_READ: read_object(&f); break;
        case RP_MSG_RESUME: /* a RESUME resent after the run finished: it was done */
            if (st.run_done) send(RP_MSG_ACK, f.seq, 0, 0);
            else send_error(f.seq, "no paused run to resume");
            break;
        default: send_error(f.seq, "unknown request kind");
        }
    }
}
