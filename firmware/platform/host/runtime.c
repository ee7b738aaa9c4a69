/* The board runtime (firmware/runtime/rp_runtime.h) for the host board: the device application, protocol and
 * generated model built with the host's cc and run as a process (harness/targets/host.py). The UART is file
 * descriptor 0, the master side of a pty whose other side the harness opens as a serial port, so the protocol's
 * bytes cross a tty as on a bench. Ticks are CLOCK_MONOTONIC nanoseconds: host time, never a board's cycles.
 * A fault signal becomes the firmware's FAULT report (rp_fault_sink), a board reset re-executes the program. */
#define _GNU_SOURCE
#include <elf.h>
#include <errno.h>
#include <fcntl.h>
#include <link.h>
#include <poll.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>
#include <unistd.h>

#include "rp_runtime.h"

#define UART_FD 0
#define NS_PER_S 1000000000u

volatile uint32_t rp_fault_context = RP_FAULT_NO_CONTEXT;

static uint8_t rx[RP_UART_RX_SIZE];
static int32_t rx_head, rx_tail; /* rx[rx_tail, rx_head) waits to be read */
static int uart_on;

/* ---- Board ---------------------------------------------------------------------------------------------------- */

/* Stopped as a board stops after a fault or rp_exit, spinning with interrupts off: exiting would hang up the pty
 * and the harness would lose the report still queued in it. The harness kills the process when it is done. */
__attribute__((noreturn)) static void stop(void) {
    for (;;) pause();
}

/* The faulting instruction's address, from the signal's context (the executable is linked -no-pie, so it is the
 * ELF's address and harness/protocol/fault.py names the function as on a board). */
static uint32_t fault_pc(const void *context) {
    const ucontext_t *uc = context;
#if defined(__x86_64__)
    return (uint32_t)uc->uc_mcontext.gregs[REG_RIP];
#elif defined(__aarch64__)
    return (uint32_t)uc->uc_mcontext.pc;
#else
    (void)uc;
    return RP_FAULT_NO_FRAME;
#endif
}

/* A fault signal as the M4 would report it (CFSR bits, RM0090's SCB): a bad load or store as a precise bus error
 * at its address, an illegal instruction as UNDEFINSTR, an arithmetic trap as DIVBYZERO. */
#define CFSR_PRECISERR (1u << 9)
#define CFSR_BFARVALID (1u << 15)
#define CFSR_UNDEFINSTR (1u << 16)
#define CFSR_DIVBYZERO (1u << 25)
#define HFSR_FORCED (1u << 30)

static void on_fault(int sig, siginfo_t *info, void *context) {
    rp_fault f = {fault_pc(context), RP_FAULT_NO_FRAME, RP_FAULT_NO_FRAME, 0, HFSR_FORCED, 0, 0, 0, 3u,
                  rp_fault_context};
    if (sig == SIGSEGV || sig == SIGBUS) {
        f.cfsr = CFSR_PRECISERR | CFSR_BFARVALID;
        f.bfar = (uint32_t)(uintptr_t)info->si_addr;
    } else {
        f.cfsr = sig == SIGILL ? CFSR_UNDEFINSTR : CFSR_DIVBYZERO;
    }
    rp_fault_sink(&f);
    stop();
}

void rp_board_init(void) {
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = on_fault;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND;
    const int signals[] = {SIGSEGV, SIGBUS, SIGILL, SIGFPE};
    for (unsigned i = 0; i < sizeof signals / sizeof *signals; i++) sigaction(signals[i], &sa, 0);
    signal(SIGPIPE, SIG_IGN); /* a closed link ends the program through write's error, below */
    rp_ticks_start();
    rp_uart_init(RP_UART_BAUD);
}

uint32_t rp_board_clock_hz(void) { return NS_PER_S; } /* no clock tree: the tick rate, as the hello needs one */
rp_clock_status rp_board_clock_status(void) { return RP_CLOCK_NOT_SET; }
uint32_t rp_board_reset_flags(void) { return 0u; }

void rp_board_reset(void) {
    char *const argv[] = {"rp-host-board", 0};
    execv("/proc/self/exe", argv); /* the same program from main, the link (fd 0) kept */
    _exit(RP_EXIT_UNHANDLED);
}

/* ---- Watchdog: none (a hung host board is the harness's inference timeout's) ------------------------------------ */

void rp_watchdog_start(void) {}
void rp_watchdog_feed(void) {}
uint32_t rp_watchdog_ms(void) { return 0u; }

/* ---- Ticks ---------------------------------------------------------------------------------------------------- */

void rp_ticks_start(void) {}
void rp_ticks_arm(void) {}
uint32_t rp_ticks_hz(void) { return NS_PER_S; }

uint32_t rp_ticks(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (uint32_t)((uint64_t)t.tv_sec * NS_PER_S + (uint64_t)t.tv_nsec); /* wraps as a 32-bit counter does */
}

/* ---- UART ----------------------------------------------------------------------------------------------------- */

void rp_uart_init(uint32_t baud) {
    (void)baud; /* a pty has no line rate */
    fcntl(UART_FD, F_SETFL, fcntl(UART_FD, F_GETFL) | O_NONBLOCK);
    rx_head = rx_tail = 0;
    uart_on = 1;
}

/* Refills the buffer; waits up to 1 ms for a byte when there is none, so a program polling for input does not spin
 * a host core. The harness closing its side ends the program. */
static void refill(void) {
    if (rx_head != rx_tail) return;
    rx_head = rx_tail = 0;
    ssize_t n = read(UART_FD, rx, sizeof rx);
    if (n < 0 && errno == EAGAIN) {
        struct pollfd p = {UART_FD, POLLIN, 0};
        poll(&p, 1, 1);
        n = read(UART_FD, rx, sizeof rx);
    }
    if (n > 0) rx_head = (int32_t)n;
    else if (n == 0 || (errno != EAGAIN && errno != EINTR)) _exit(0);
}

int32_t rp_uart_read(uint8_t *dst, int32_t max) {
    refill();
    int32_t n = 0;
    while (n < max && rx_tail < rx_head) dst[n++] = rx[rx_tail++];
    return n;
}

int32_t rp_uart_rx_available(void) { return rx_head - rx_tail; }

void rp_uart_wait(void) {
    if (rx_head != rx_tail) return;
    struct pollfd p = {UART_FD, POLLIN, 0};
    poll(&p, 1, 100); /* bounded: a caller that also watches a timer still gets to look at it */
}
void rp_uart_rx_hold(int hold) { (void)hold; } /* nothing interrupts a layer here */
uint32_t rp_uart_rx_dropped(void) { return 0u; }
uint32_t rp_ticks_and_isr(uint32_t *isr) { /* no interrupt: the reader thread fills the ring */
    *isr = 0u;
    return rp_ticks();
}
void rp_uart_calibrate_isr(void) {}
uint32_t rp_uart_rx_errors(void) { return 0u; }
int rp_uart_enabled(void) { return uart_on; }

void rp_uart_write(const void *data, int32_t n) {
    const uint8_t *p = data;
    while (n > 0) {
        const ssize_t k = write(UART_FD, p, (size_t)n);
        if (k > 0) {
            p += k;
            n -= (int32_t)k;
        } else if (k < 0 && errno == EAGAIN) {
            struct pollfd q = {UART_FD, POLLOUT, 0};
            poll(&q, 1, 100);
        } else if (k < 0 && errno != EINTR) {
            _exit(0); /* the harness closed the link */
        }
    }
}

void rp_uart_flush(void) {}

/* ---- Stack: not painted on a host (the M4's stack figures come from QEMU and boards) ---------------------------- */

uint32_t rp_stack_high_water(void) { return 0u; }
uint32_t rp_stack_size(void) { return 0u; }

/* ---- Build id: the GNU note of this executable (linked with --build-id=sha1) -------------------------------------- */

static const uint8_t *id_bytes;
static uint32_t id_len;

static int find_note(struct dl_phdr_info *info, size_t size, void *data) {
    (void)size;
    (void)data;
    for (int i = 0; i < info->dlpi_phnum; i++) {
        const ElfW(Phdr) *ph = &info->dlpi_phdr[i];
        if (ph->p_type != PT_NOTE) continue;
        const uint8_t *p = (const uint8_t *)(info->dlpi_addr + ph->p_vaddr), *end = p + ph->p_memsz;
        while (p + sizeof(ElfW(Nhdr)) <= end) {
            const ElfW(Nhdr) *note = (const ElfW(Nhdr) *)(const void *)p;
            const uint8_t *desc = p + sizeof *note + ((note->n_namesz + 3u) & ~3u);
            if (note->n_type == NT_GNU_BUILD_ID && note->n_namesz == 4 && !memcmp(p + sizeof *note, "GNU", 4)) {
                id_bytes = desc;
                id_len = note->n_descsz;
                return 1;
            }
            p = desc + ((note->n_descsz + 3u) & ~3u);
        }
    }
    return 1; /* the first object is the executable: stop there */
}

const uint8_t *rp_build_id(uint32_t *len) {
    if (!id_bytes) dl_iterate_phdr(find_note, 0);
    if (len) *len = id_len;
    return id_bytes;
}

/* ---- Console and exit ----------------------------------------------------------------------------------------- */

void rp_puts(const char *s) { rp_uart_write(s, (int32_t)strlen(s)); }

void rp_exit(int code) {
    char line[24] = "EXIT ", *end = rp_fmt_u32(line + 5, (uint32_t)code, 0);
    *end++ = '\n';
    rp_uart_write(line, (int32_t)(end - line));
    stop();
}
