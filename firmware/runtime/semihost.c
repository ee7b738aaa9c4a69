/* Semihosting (ARM "bkpt 0xAB"): console output and exit status, for the emulator self-test builds. */
#include "rp_runtime.h"

static int32_t semihost(int32_t op, const void *arg) {
    register int32_t r0 __asm("r0") = op;
    register const void *r1 __asm("r1") = arg;
    __asm volatile("bkpt 0xAB" : "+r"(r0) : "r"(r1) : "memory");
    return r0;
}

void rp_puts(const char *s) { semihost(0x04, s); /* SYS_WRITE0 */ }

void rp_exit(int code) {
    const uint32_t block[2] = {0x20026u, (uint32_t)code}; /* ADP_Stopped_ApplicationExit, status */
    semihost(0x20, block);                                /* SYS_EXIT_EXTENDED */
    for (;;) {
    }
}
