/* rp_puts and rp_exit: semihosting (ARM "bkpt 0xAB") only when RP_SEMIHOSTING is set, because on a board without
 * a debugger that BKPT is itself a HardFault; otherwise the UART. */
#include "rp_runtime.h"

#if RP_SEMIHOSTING
static int32_t semihost(int32_t op, const void *arg) {
    register int32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void rp_puts(const char *s) { semihost(0x04, s); /* SYS_WRITE0 */ }

void rp_exit(int code) {
    rp_uart_flush();
    const uint32_t block[2] = {0x20026u, (uint32_t)code}; /* ADP_Stopped_ApplicationExit, status */
    semihost(0x20, block);                                /* SYS_EXIT_EXTENDED: any status, not only 0/1 */
    for (;;) {
    }
}
#else  /* !RP_SEMIHOSTING */
void rp_puts(const char *s) {
    int32_t n = 0;
    while (s[n]) n++;
    rp_uart_write(s, n);
}

void rp_exit(int code) {
    char line[24] = "EXIT ", *p = line + 5, digits[11];
    uint32_t v = code < 0 ? 0u - (uint32_t)code : (uint32_t)code;
    int n = 0;
    if (code < 0) *p++ = '-';
    do {
        digits[n++] = (char)('0' + v % 10u);
        v /= 10u;
    } while (v);
    while (n) *p++ = digits[--n];
    *p++ = '\n';
    rp_uart_write(line, (int32_t)(p - line));
    rp_uart_flush();
    __asm volatile("cpsid i");
    for (;;) __asm volatile("wfi");
}
#endif /* RP_SEMIHOSTING */
