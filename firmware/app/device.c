/* Device firmware: announces itself on the UART, then serves images: the host sends the input image in chunks of
 * at most half the receive ring and waits for one ACK byte after each (the device acknowledges a chunk once it has
 * moved it into the arena, so the ring never overflows at any baud rate); after the last chunk the device runs the
 * model and sends the same text report as the self-test, then waits for the next image.
 * (The framed protocol with CRCs and retransmission replaces this plain transport in the protocol stage.) */
#include "rp_app.h"
#include "rp_runtime.h"

#define RP_ACK 0x06
#define RP_CHUNK (RP_UART_RX_SIZE / 2)

static uint8_t arena[RP_MODEL_ARENA_BYTES] __attribute__((aligned(4)));

static void uart_line(const char *s) {
    int32_t n = 0;
    while (s[n]) n++;
    rp_uart_write(s, n);
}

static void banner(void) {
    char line[96] = "rp-device 1 model " RP_MODEL_ID " rx ", *p = line;
    while (*p) p++;
    p = rp_fmt_u32(p, RP_UART_RX_SIZE, 0);
    const char *chunk = " chunk ";
    while (*chunk) *p++ = *chunk++;
    p = rp_fmt_u32(p, RP_CHUNK, 0);
    *p++ = '\n';
    *p = 0;
    uart_line(line);
}

int main(void) {
    static rp_app_run run;
    rp_board_init();
    banner();
    const int32_t size = rp_model.input_h * rp_model.input_w;
    uint8_t *image = arena + rp_model.input_offset;
    for (;;) {
        for (int32_t got = 0; got < size;) {
            const int32_t want = size - got < RP_CHUNK ? size - got : RP_CHUNK;
            for (int32_t chunk = 0; chunk < want;) chunk += rp_uart_read(image + got + chunk, want - chunk);
            got += want;
            const uint8_t ack = RP_ACK;
            rp_uart_write(&ack, 1);
        }
        rp_app_infer(arena, &run);
        rp_app_report(arena, &run, uart_line);
    }
}
