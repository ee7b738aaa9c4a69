/* Fault reports: one text line over the UART (and semihosting if RP_SEMIHOSTING), then rp_exit(RP_EXIT_HARDFAULT).
 *   HARDFAULT pc=0x... lr=0x... psr=0x... cfsr=0x... hfsr=0x... mmfar=0x... bfar=0x...
 * pc/lr/psr come from the exception frame the core stacked on MSP or PSP (EXC_RETURN bit 2 says which). */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

void rp_fault_report(const uint32_t *frame);
void rp_fault_unhandled(uint32_t exception);

/* Naked: no prologue may touch the stack before the frame pointer is taken. */
__attribute__((naked)) void HardFault_Handler(void) {
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "b rp_fault_report\n");
}

static char *put_str(char *s, const char *t) {
    while (*t) *s++ = *t++;
    return s;
}

static char *put_hex(char *s, const char *label, uint32_t v) {
    s = put_str(s, label);
    s = put_str(s, "0x");
    return rp_fmt_u32(s, v, 1);
}

__attribute__((noreturn)) static void report(char *line, char *end, int code) {
    *end++ = '\n';
    *end = 0;
    if (!(RP_UART_CR1 & USART_CR1_UE)) rp_uart_init(RP_UART_BAUD); /* the fault came before rp_board_init */
    rp_uart_write(line, (int32_t)(end - line));
#if RP_SEMIHOSTING
    rp_puts(line);
#endif
    rp_exit(code);
}

__attribute__((noreturn, used)) void rp_fault_report(const uint32_t *frame) {
    char line[160];
    char *s = put_str(line, "HARDFAULT");
    s = put_hex(s, " pc=", frame[6]);
    s = put_hex(s, " lr=", frame[5]);
    s = put_hex(s, " psr=", frame[7]);
    s = put_hex(s, " cfsr=", SCB_CFSR);
    s = put_hex(s, " hfsr=", SCB_HFSR);
    s = put_hex(s, " mmfar=", SCB_MMFAR);
    s = put_hex(s, " bfar=", SCB_BFAR);
    report(line, s, RP_EXIT_HARDFAULT);
}

__attribute__((noreturn)) void rp_fault_unhandled(uint32_t exception) {
    char line[48];
    char *s = put_str(line, "UNHANDLED exception=");
    s = rp_fmt_u32(s, exception, 0);
    if (exception >= 16) {
        s = put_str(s, " irq=");
        s = rp_fmt_u32(s, exception - 16u, 0);
    }
    report(line, s, RP_EXIT_UNHANDLED);
}
