/* Board runtime services for the STM32F4 firmware (bare metal: no HAL, no malloc).
 *
 * Build-time switches (harness/build/cross.py sets them from boards.yaml):
 *   RP_SEMIHOSTING   1: rp_puts/rp_exit use semihosting (needs a debugger or qemu -semihosting-config).
 *                    0 (default): rp_puts writes to the UART and rp_exit spins; no BKPT 0xAB is compiled in.
 *   RP_TICKS_DWT     1: rp_ticks() is DWT CYCCNT (core cycles). 0 (default): TIM2 at prescaler 0.
 *   RP_TICKS_NAME    the counter's name in HELLO_REPLY: "dwt" or "tim2" from RP_TICKS_DWT; the host board's "host".
 *   RP_SYSCLK_HZ     target system clock for the PLL (default 168 MHz; above 168 MHz needs the F42x over-drive).
 *   RP_MCU_MAX_HZ    the part's top speed: 168 MHz (F40x/F41x, default) or 180 MHz (F42x/F43x).
 *   RP_HSE_HZ        external clock (default 8 MHz, as on the Discovery and Nucleo boards).
 *   RP_HSE_BYPASS    1: an external clock on OSC_IN (Nucleo-144: the ST-LINK's MCO); 0 (default): a crystal.
 *   RP_WATCHDOG_MS   independent watchdog timeout (0, the default: off); the application feeds it.
 *   RP_UART_RX_SIZE  receive ring size in bytes, a power of two (default 1024).
 *   RP_UART_USART    host UART: 1 (USART1, PA9/PA10; QEMU -serial #0), 2 (USART2, PA2/PA3: the Discovery) or
 *                    3 (USART3, PD8/PD9: the Nucleo-144 ST-LINK virtual COM port); cross.py picks it from
 *                    boards.yaml uart.name (default 1).
 *   RP_UART_BAUD     host UART baud rate set by rp_board_init (default 115200, 8N1).
 */
#ifndef RP_RUNTIME_H
#define RP_RUNTIME_H

#include <stdint.h>

#ifndef RP_SEMIHOSTING
#define RP_SEMIHOSTING 0
#endif
#ifndef RP_TICKS_DWT
#define RP_TICKS_DWT 0
#endif
#ifndef RP_TICKS_NAME /* what rp_ticks counts, as the device's HELLO_REPLY names it (a string literal) */
#if RP_TICKS_DWT
#define RP_TICKS_NAME "dwt"
#else
#define RP_TICKS_NAME "tim2"
#endif
#endif
#ifndef RP_UART_RX_SIZE
#define RP_UART_RX_SIZE 1024
#endif
#ifndef RP_WATCHDOG_MS
#define RP_WATCHDOG_MS 0u /* off */
#endif
#ifndef RP_UART_BAUD
#define RP_UART_BAUD 115200u
#endif

/* Exit status of a program stopped by a fault (HardFault/MemManage/BusFault/UsageFault) or an unhandled interrupt. */
#define RP_EXIT_HARDFAULT 0x7E
#define RP_EXIT_UNHANDLED 0x7F

/* Places an uninitialised buffer in core-coupled RAM where the board has it (else in SRAM .bss). */
#define RP_CCMRAM __attribute__((section(".ccmram")))

/* ---- Board ---------------------------------------------------------------------------------------------------- */

/* How rp_board_init's clock setup ended. Every ready-bit poll is bounded; on a timeout the chip stays on the
 * 16 MHz HSI (QEMU does not model the RCC, so it always ends with RP_CLOCK_HSE_TIMEOUT). */
typedef enum {
    RP_CLOCK_NOT_SET = 0,       /* rp_board_init has not run: reset clock (HSI, 16 MHz) */
    RP_CLOCK_PLL = 1,           /* HSE -> PLL -> RP_SYSCLK_HZ */
    RP_CLOCK_HSE_TIMEOUT = 2,   /* neither an HSE crystal nor an HSE bypass clock became ready */
    RP_CLOCK_PLL_TIMEOUT = 3,
    RP_CLOCK_OVERDRIVE_TIMEOUT = 4, /* no longer an outcome: an over-drive failure gives RP_CLOCK_PLL_NO_OVERDRIVE */
    RP_CLOCK_FLASH_TIMEOUT = 5, /* flash wait states did not read back */
    RP_CLOCK_SWITCH_TIMEOUT = 6, /* the system clock switch to the PLL was not confirmed */
    RP_CLOCK_PLL_NO_OVERDRIVE = 7 /* the over-drive did not come up: HSE -> PLL -> 168 MHz instead of 180 */
} rp_clock_status;

/* Clock (bounded waits), then the cycle counter (rp_ticks_start) and the UART (RP_UART_BAUD, receive interrupt on).
 * Call first in main. */
void rp_board_init(void);
/* The system clock now: RP_SYSCLK_HZ after a good PLL start, 168 MHz without over-drive, 16000000 on the HSI. */
uint32_t rp_board_clock_hz(void);
rp_clock_status rp_board_clock_status(void);
/* Why this boot happened: RCC_CSR's reset flags as they were at rp_board_init (then cleared), shifted down so bit
 * 0 = BOR, 1 = PIN, 2 = POR, 3 = SFT, 4 = IWDG, 5 = WWDG, 6 = LPWR. 0 where RCC_CSR is not modelled (QEMU). */
uint32_t rp_board_reset_flags(void);
/* Resets the whole chip (SYSRESETREQ); the next boot reports SFT (and PIN: the reset drives NRST). */
__attribute__((noreturn)) void rp_board_reset(void);

/* ---- Watchdog ------------------------------------------------------------------------------------------------- */

/* Starts the IWDG with RP_WATCHDOG_MS (nothing when 0); rp_board_init calls it. Feed it more often than that. */
void rp_watchdog_start(void);
void rp_watchdog_feed(void);
uint32_t rp_watchdog_ms(void);

/* ---- Cycle counter -------------------------------------------------------------------------------------------- */

/* Starts (and zeroes) the free-running 32-bit counter behind rp_ticks: DWT CYCCNT if RP_TICKS_DWT, else TIM2 at
 * prescaler 0 (one tick per instruction under qemu -icount shift=0; QEMU's DWT always reads 0). */
void rp_ticks_start(void);
uint32_t rp_ticks(void);
/* Makes sure the counter runs without resetting it: call before every measurement (a debugger may have stopped the
 * DWT by writing DEMCR = 0). */
void rp_ticks_arm(void);
/* Nominal tick rate on real hardware (core clock for DWT, the APB1 timer clock for TIM2); meaningless on QEMU. */
uint32_t rp_ticks_hz(void);

/* ---- UART (RP_UART_USART: USART1 on PA9/PA10, USART2 on PA2/PA3 or USART3 on PD8/PD9, AF7) ----------------------- */

/* Configures the host UART for `baud` 8N1 from the current clock and enables its receive interrupt. Bytes
 * arriving while the ring is full are dropped and counted. rp_board_init calls this. */
void rp_uart_init(uint32_t baud);
/* Copies up to `max` received bytes into `dst`; never blocks. Returns the number copied. */
int32_t rp_uart_read(uint8_t *dst, int32_t max);
/* Bytes waiting in the receive ring. */
int32_t rp_uart_rx_available(void);
/* Sleeps (WFI) until the receive interrupt may have brought a byte; returns at once if one is waiting. A waiting
 * board then leaves the core idle: QEMU stops using a host core, silicon draws sleep-mode current. With the
 * watchdog on it returns at once instead (nothing would wake the core to feed the IWDG), and callers spin. */
void rp_uart_wait(void);
/* hold = 1: no receive interrupt until rp_uart_rx_hold(0) (bytes wait in the USART; on silicon all but the first
 * are lost to overrun). Held while a layer is timed, so a byte arriving then cannot add to the layer's count. */
void rp_uart_rx_hold(int hold);
/* Bytes lost since rp_uart_init: ring full, or a hardware overrun (each overrun counts as one). */
uint32_t rp_uart_rx_dropped(void);
/* rp_ticks() and, read with it (interrupts masked between), the ticks the receive interrupt has taken since boot,
 * its entry and exit included: a measurement that lets the interrupt run takes them off. Exact where the ticks
 * count instructions (QEMU -icount): rp_uart_calibrate_isr measures the entry and exit once, at boot. */
uint32_t rp_ticks_and_isr(uint32_t *isr);
void rp_uart_calibrate_isr(void);
/* Bytes received with a framing, noise or parity error since rp_uart_init (kept: the protocol's CRC decides). */
uint32_t rp_uart_rx_errors(void);
/* Whether rp_uart_init has run (the USART is enabled). */
int rp_uart_enabled(void);
/* Sends `n` bytes, blocking (polls TXE; the TXE interrupt is never used). */
void rp_uart_write(const void *data, int32_t n);
/* Waits (bounded) until the last byte has left the shift register. */
void rp_uart_flush(void);

/* ---- Stack ---------------------------------------------------------------------------------------------------- */

/* Bytes of the stack reserve used so far (deepest point since reset), measured from the paint Reset_Handler put
 * below its own frame. Equals rp_stack_size() if the stack reached the bottom of the reserve. */
uint32_t rp_stack_high_water(void);
/* Size of the stack reserve at the top of RAM (the linker script's _stack_size). */
uint32_t rp_stack_size(void);

/* ---- Build id ------------------------------------------------------------------------------------------------- */

/* The GNU build-id bytes (20 for --build-id=sha1) from flash, as `readelf -n` prints them; *len = 0 and NULL
 * if the image was linked without one. `len` may be NULL. */
const uint8_t *rp_build_id(uint32_t *len);

/* Writes v at s (hex: 8 lowercase digits; else decimal, no padding), no NUL; returns the end. Console lines are
 * built with it rather than printf, which would cost ~20 KB of flash. */
char *rp_fmt_u32(char *s, uint32_t v, int hex);

/* ---- Faults --------------------------------------------------------------------------------------------------- */

#define RP_FAULT_NO_CONTEXT 0xFFFFu     /* rp_fault_context when the application says nothing */
#define RP_FAULT_NO_FRAME 0xFFFFFFFFu   /* pc/lr/psr when no valid exception frame could be read */

/* What a fault handler saw. exception: 3 for HardFault (MemManage, BusFault and UsageFault escalate to it), else
 * the unhandled exception's number. */
typedef struct {
    uint32_t pc, lr, psr, cfsr, hfsr, mmfar, bfar, exc_return, exception, context;
} rp_fault;

/* What the application was doing, for fault reports (the device app: the running layer's index). */
extern volatile uint32_t rp_fault_context;

/* Where fault reports go; weak (a text line on the UART, and semihosting). Runs on the fault stack at HardFault
 * priority (no interrupt preempts it, so it must poll); rp_exit follows. */
void rp_fault_sink(const rp_fault *fault);

/* ---- Console and exit ----------------------------------------------------------------------------------------- */

/* Writes a NUL-terminated string: semihosting SYS_WRITE0 (QEMU's stderr) if RP_SEMIHOSTING, else the UART. */
void rp_puts(const char *s);

/* Ends the program with status `code` (0 = success). RP_SEMIHOSTING: SYS_EXIT_EXTENDED, so QEMU exits with `code`.
 * Otherwise: flushes the UART, writes the line "EXIT <code>\n" there and spins with interrupts off. */
__attribute__((noreturn)) void rp_exit(int code);

#endif /* RP_RUNTIME_H */
