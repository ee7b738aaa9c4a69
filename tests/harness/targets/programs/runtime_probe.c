/* Board-runtime probe for tests/harness/targets/test_qemu_runtime.py. After rp_board_init it prints
 *   READY clock_hz=N clock_status=N ticks=N stack=N stack_size=N build_id=HEX
 * on the UART and then serves one-byte commands (N = 4-byte little-endian argument):
 *   'E' N  echo the next N bytes back as they arrive, then "ECHO N dropped=D"
 *   'O' N  read nothing until N bytes have arrived or been dropped, then "OVERFLOW available=A dropped=D"
 *   'S' N  call a function that fills a 4096-byte local array with N, then "STACK before=B after=A r=R"
 *   'F'    load from 0x10000000 (CCM, unmapped on QEMU): a precise BusFault escalated to HardFault
 *   'K'    the stack pointer into unmapped memory (as a runaway stack leaves it), then a push: the fault handler
 *          itself can no longer use that stack
 *   'Z'    "CCM zero=Z at=A": whether a core-coupled RAM buffer (RP_CCMRAM) is all zero at start, and where it is
 *   'Q'    rp_exit(0) */
#include "rp_runtime.h"

static uint8_t ccm_buffer[256] RP_CCMRAM;

static void put_str(const char *s) {
    int32_t n = 0;
    while (s[n]) n++;
    rp_uart_write(s, n);
}

static void put_num(const char *label, uint32_t v) {
    char digits[10];
    int n = 0;
    put_str(label);
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) rp_uart_write(&digits[--n], 1);
}

static uint8_t read_byte(void) {
    uint8_t b;
    while (rp_uart_read(&b, 1) == 0) {
    }
    return b;
}

static uint32_t read_u32(void) {
    uint32_t v = 0;
    for (int i = 0; i < 4; i++) v |= (uint32_t)read_byte() << (8 * i);
    return v;
}

/* noinline + volatile: the array must really live on the stack, at its full size (half the reserve). */
__attribute__((noinline)) static uint32_t deep(uint32_t n) {
    volatile uint8_t big[4096];
    for (uint32_t i = 0; i < sizeof big; i++) big[i] = (uint8_t)(n + i);
    return big[n % sizeof big];
}

__attribute__((noinline)) uint32_t fault_probe(void) { return *(volatile uint32_t *)0x10000000u; }

static void echo(uint32_t n) {
    uint8_t buf[64];
    while (n) {
        const int32_t got = rp_uart_read(buf, n < sizeof buf ? (int32_t)n : (int32_t)sizeof buf);
        rp_uart_write(buf, got);
        n -= (uint32_t)got;
    }
    put_num("ECHO dropped=", rp_uart_rx_dropped());
    put_str("\n");
}

static void overflow(uint32_t n) {
    while ((uint32_t)rp_uart_rx_available() + rp_uart_rx_dropped() < n) {
    }
    put_num("OVERFLOW available=", (uint32_t)rp_uart_rx_available());
    put_num(" dropped=", rp_uart_rx_dropped());
    put_str("\n");
    uint8_t sink[64];
    while (rp_uart_read(sink, sizeof sink)) {
    }
}

int main(void) {
    rp_board_init();
    rp_puts("rp_puts ok\n");
    uint32_t len = 0;
    const uint8_t *id = rp_build_id(&len);
    put_num("READY clock_hz=", rp_board_clock_hz());
    put_num(" clock_status=", (uint32_t)rp_board_clock_status());
    put_num(" ticks=", rp_ticks());
    put_num(" stack=", rp_stack_high_water());
    put_num(" stack_size=", rp_stack_size());
    put_str(" build_id=");
    for (uint32_t i = 0; i < len; i++) {
        const char hex[2] = {"0123456789abcdef"[id[i] >> 4], "0123456789abcdef"[id[i] & 15u]};
        rp_uart_write(hex, 2);
    }
    put_str("\n");
    for (;;) {
        const uint8_t cmd = read_byte();
        if (cmd == 'E') {
            echo(read_u32());
        } else if (cmd == 'O') {
            overflow(read_u32());
        } else if (cmd == 'S') {
            const uint32_t n = read_u32(), before = rp_stack_high_water();
            const uint32_t r = deep(n);
            put_num("STACK before=", before);
            put_num(" after=", rp_stack_high_water());
            put_num(" r=", r);
            put_str("\n");
        } else if (cmd == 'F') {
            put_num("FAULT ", fault_probe());
        } else if (cmd == 'K') {
            __asm volatile("ldr r0, =0x10000100\n msr msp, r0\n push {r0}\n" ::: "r0", "memory");
        } else if (cmd == 'Z') {
            uint32_t zero = 1;
            for (uint32_t i = 0; i < sizeof ccm_buffer; i++) zero &= ccm_buffer[i] == 0;
            put_num("CCM zero=", zero);
            put_num(" at=", (uint32_t)(uintptr_t)ccm_buffer);
            put_str("\n");
        } else if (cmd == 'Q') {
            rp_exit(0);
        }
    }
}
