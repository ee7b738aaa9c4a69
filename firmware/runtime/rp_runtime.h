/* Board runtime services the generated programs use. */
#ifndef RP_RUNTIME_H
#define RP_RUNTIME_H

#include <stdint.h>

/* Ends the program: semihosting exit with status `code` (0 = success) on the emulator. Never returns. */
__attribute__((noreturn)) void rp_exit(int code);

/* Writes a NUL-terminated string to the host console (semihosting SYS_WRITE0). */
void rp_puts(const char *s);

/* Free-running instruction counter: TIM2 at prescaler 0 (one tick per instruction under qemu -icount shift=0). */
void rp_ticks_start(void);
uint32_t rp_ticks(void);

#endif /* RP_RUNTIME_H */
