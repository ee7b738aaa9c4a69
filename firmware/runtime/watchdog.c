/* rp_watchdog_start / rp_watchdog_feed: the independent watchdog (IWDG, RM0090 section 19), on when the board
 * profile gives a timeout (RP_WATCHDOG_MS, from boards.yaml watchdog_s). A kernel that hangs then resets the board,
 * and the next boot's HELLO says reset=iwdg. Once started the IWDG cannot be stopped except by a reset; a debugger
 * halt freezes it (pyOCD's STM32F4 targets set DBGMCU on connect). QEMU does not model the IWDG. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#define LSI_HZ 32000u /* nominal; the part's LSI runs at 17-47 kHz, so the real timeout is 0.68x to 1.9x this */

#if RP_WATCHDOG_MS
/* The smallest prescaler (4 << PR) whose 12-bit reload reaches the timeout. */
#define IWDG_TICKS(pr) ((uint64_t)RP_WATCHDOG_MS * LSI_HZ / 1000u / (4u << (pr)))
#define IWDG_PR_FOR                                                                                               \
    (IWDG_TICKS(0) <= 4096u ? 0u : IWDG_TICKS(1) <= 4096u ? 1u : IWDG_TICKS(2) <= 4096u ? 2u :                    \
     IWDG_TICKS(3) <= 4096u ? 3u : IWDG_TICKS(4) <= 4096u ? 4u : IWDG_TICKS(5) <= 4096u ? 5u : 6u)
_Static_assert(IWDG_TICKS(6) <= 4096u, "RP_WATCHDOG_MS above the IWDG's 32.7 s at the nominal LSI");
_Static_assert(IWDG_TICKS(IWDG_PR_FOR) >= 1u, "RP_WATCHDOG_MS too short for the IWDG");

void rp_watchdog_start(void) {
    RP_WRITE(IWDG_KR, IWDG_KEY_START); /* starts the LSI too */
    RP_WRITE(IWDG_KR, IWDG_KEY_UNLOCK);
    RP_WRITE(IWDG_PR, IWDG_PR_FOR);
    RP_WRITE(IWDG_RLR, (uint32_t)IWDG_TICKS(IWDG_PR_FOR) - 1u);
    for (uint32_t i = 0; i < 100000u && RP_READ(IWDG_SR); i++) { /* PVU/RVU: the LSI domain took the values */
    }
    RP_WRITE(IWDG_KR, IWDG_KEY_FEED);
}

void rp_watchdog_feed(void) { RP_WRITE(IWDG_KR, IWDG_KEY_FEED); }
#else
void rp_watchdog_start(void) {}
void rp_watchdog_feed(void) {}
#endif

uint32_t rp_watchdog_ms(void) { return RP_WATCHDOG_MS; }
