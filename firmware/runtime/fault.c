/* Fault reports: the registers that say what went wrong go to rp_fault_sink (weak: by default one text line over
 * the UART and semihosting; the device app sends a FAULT frame instead), then rp_exit(RP_EXIT_HARDFAULT).
 *   HARDFAULT pc=0x... lr=0x... psr=0x... cfsr=0x... hfsr=0x... mmfar=0x... bfar=0x... context=0x...
 * pc/lr/psr come from the exception frame the core stacked on MSP or PSP (EXC_RETURN bit 2 says which). The
 * handler runs on a stack of its own: a fault caused by a stack overflow leaves no room on the faulting one. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#define FAULT_STACK_BYTES 512u

extern uint32_t _sstack, _estack;
uint32_t rp_fault_stack[FAULT_STACK_BYTES / 4u] __attribute__((aligned(8)));
volatile uint32_t rp_fault_context = RP_FAULT_NO_CONTEXT;

void rp_fault_report(const uint32_t *frame, uint32_t exc_return);
void rp_fault_unhandled(uint32_t exception);

/* Naked: no prologue may touch the faulting stack. r0 = the stacked frame, r1 = EXC_RETURN, then MSP moves to
 * the fault stack (the frame stays where the core put it). */
__attribute__((naked)) void HardFault_Handler(void) {
    __asm volatile(
        "tst lr, #4\n"
        "ite eq\n"
        "mrseq r0, msp\n"
        "mrsne r0, psp\n"
        "mov r1, lr\n"
        "ldr r2, =rp_fault_stack + %c0\n"
        "msr msp, r2\n"
        "b rp_fault_report\n" ::"i"(FAULT_STACK_BYTES));
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

/* The default sink: one text line (the self-test's QEMU stderr, a terminal on the bench). */
__attribute__((weak)) void rp_fault_sink(const rp_fault *f) {
    char line[200];
    char *s = put_str(line, f->exception == 3u ? "HARDFAULT" : "UNHANDLED");
    if (f->exception != 3u) {
        s = put_str(s, " exception=");
        s = rp_fmt_u32(s, f->exception, 0);
    }
    s = put_hex(s, " pc=", f->pc);
    s = put_hex(s, " lr=", f->lr);
    s = put_hex(s, " psr=", f->psr);
    s = put_hex(s, " cfsr=", f->cfsr);
    s = put_hex(s, " hfsr=", f->hfsr);
    s = put_hex(s, " mmfar=", f->mmfar);
    s = put_hex(s, " bfar=", f->bfar);
    s = put_hex(s, " context=", f->context);
    *s++ = '\n';
    *s = 0;
    rp_uart_write(line, (int32_t)(s - line));
#if RP_SEMIHOSTING
    rp_puts(line);
#endif
}

__attribute__((noreturn)) static void report(rp_fault *f, int code) {
    f->cfsr = RP_READ(SCB_CFSR);
    f->hfsr = RP_READ(SCB_HFSR);
    f->mmfar = RP_READ(SCB_MMFAR);
    f->bfar = RP_READ(SCB_BFAR);
    f->context = rp_fault_context;
    if (!rp_uart_enabled()) rp_uart_init(RP_UART_BAUD); /* the fault came before rp_board_init */
    rp_fault_sink(f);
    rp_exit(code);
}

__attribute__((noreturn, used)) void rp_fault_report(const uint32_t *frame, uint32_t exc_return) {
    rp_fault f = {.exception = 3u, .exc_return = exc_return, .pc = RP_FAULT_NO_FRAME, .lr = RP_FAULT_NO_FRAME,
                  .psr = RP_FAULT_NO_FRAME};
    /* A frame outside the stack reserve (an overflow, a corrupt PSP) is not read: that read could fault again. */
    if (frame >= &_sstack && frame + 8 <= &_estack) {
        f.pc = frame[6];
        f.lr = frame[5];
        f.psr = frame[7];
    }
    report(&f, RP_EXIT_HARDFAULT);
}

__attribute__((noreturn)) void rp_fault_unhandled(uint32_t exception) {
    rp_fault f = {.exception = exception, .exc_return = 0, .pc = RP_FAULT_NO_FRAME, .lr = RP_FAULT_NO_FRAME,
                  .psr = RP_FAULT_NO_FRAME};
    report(&f, RP_EXIT_UNHANDLED);
}
