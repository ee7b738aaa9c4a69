/* rp_board_init: HSE -> PLL -> RP_SYSCLK_HZ with bounded waits (RM0090 section 6), then ticks and UART.
 * Any ready bit that does not come within RP_CLOCK_POLL_LIMIT polls leaves the chip on the 16 MHz HSI and the
 * reason in rp_board_clock_status(): QEMU does not model the RCC (its registers read 0), so there it always ends
 * with RP_CLOCK_HSE_TIMEOUT after a few million instructions at most. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#ifndef RP_SYSCLK_HZ
#define RP_SYSCLK_HZ 168000000u
#endif
#ifndef RP_HSE_HZ
#define RP_HSE_HZ 8000000u
#endif
/* ~6 cycles a poll at 16 MHz: 200k polls is ~75 ms, above HAL's 100 ms-class HSE start-up budget in practice. */
#ifndef RP_CLOCK_POLL_LIMIT
#define RP_CLOCK_POLL_LIMIT 200000u
#endif

#define HSI_HZ 16000000u
/* PLL input 2 MHz (the reference manual's jitter recommendation), VCO = 2 * SYSCLK, PLLP = 2. */
#define PLL_M (RP_HSE_HZ / 2000000u)
#define PLL_N (RP_SYSCLK_HZ / 1000000u)
#define PLL_VCO_HZ (2u * RP_SYSCLK_HZ)
#define PLL_Q ((PLL_VCO_HZ + 47999999u) / 48000000u) /* USB/SDIO clock at most 48 MHz */
/* 2.7-3.6 V supply: one wait state per 30 MHz of HCLK. */
#define FLASH_WS ((RP_SYSCLK_HZ - 1u) / 30000000u)

_Static_assert(RP_HSE_HZ % 2000000u == 0 && PLL_M >= 2 && PLL_M <= 63, "RP_HSE_HZ must be a multiple of 2 MHz");
_Static_assert(RP_SYSCLK_HZ % 1000000u == 0 && PLL_N >= 50 && PLL_N <= 432, "RP_SYSCLK_HZ must be whole MHz");
_Static_assert(RP_SYSCLK_HZ <= 180000000u && RP_SYSCLK_HZ >= 24000000u, "RP_SYSCLK_HZ out of the F4 range");
_Static_assert(PLL_Q >= 2 && PLL_Q <= 15, "PLLQ out of range");

static uint32_t clock_hz = HSI_HZ;
static rp_clock_status clock_status = RP_CLOCK_NOT_SET;

uint32_t rp_board_clock_hz(void) { return clock_hz; }
rp_clock_status rp_board_clock_status(void) { return clock_status; }

/* APB2 runs at HCLK/2 and APB1 at HCLK/4 on the PLL, both undivided on the HSI fallback; timers on a divided APB
 * bus run at twice its clock. */
uint32_t rp_board_pclk2_hz(void) { return clock_status == RP_CLOCK_PLL ? clock_hz / 2u : clock_hz; }
uint32_t rp_board_tim_apb1_hz(void) { return clock_status == RP_CLOCK_PLL ? clock_hz / 2u : clock_hz; }

static int wait_set(volatile uint32_t *reg, uint32_t mask, uint32_t value) {
    for (uint32_t i = 0; i < RP_CLOCK_POLL_LIMIT; i++)
        if ((*reg & mask) == value) return 1;
    return 0;
}

static int start_hse(void) {
    RCC_CR &= ~(RCC_CR_HSEON | RCC_CR_HSEBYP);
    RCC_CR |= RCC_CR_HSEON; /* crystal (Discovery) */
    if (wait_set(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY)) return 1;
    /* Nucleo boards feed the ST-LINK's 8 MHz MCO into OSC_IN: that needs the oscillator bypassed. HSEBYP may only
     * change while HSE is off. */
    RCC_CR &= ~RCC_CR_HSEON;
    (void)wait_set(&RCC_CR, RCC_CR_HSERDY, 0);
    RCC_CR |= RCC_CR_HSEBYP;
    RCC_CR |= RCC_CR_HSEON;
    return wait_set(&RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY);
}

/* Back to the reset clock tree; flash wait states are left as they are (more than needed is only slower). */
static void fall_back(rp_clock_status why) {
    RCC_CFGR &= ~(RCC_CFGR_SW_MASK | RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK);
    (void)wait_set(&RCC_CFGR, RCC_CFGR_SWS_MASK, 0);
    RCC_CR &= ~RCC_CR_PLLON;
    RCC_CR &= ~(RCC_CR_HSEON | RCC_CR_HSEBYP);
    clock_hz = HSI_HZ;
    clock_status = why;
}

static rp_clock_status start_pll(void) {
    if (!start_hse()) return RP_CLOCK_HSE_TIMEOUT;
    /* Voltage scale 1 (needed above 144 MHz) is the reset value on the F40x and F42x alike: VOS is left alone. */
    RCC_APB1ENR |= RCC_APB1ENR_PWREN;
    RCC_CR &= ~RCC_CR_PLLON;
    RCC_PLLCFGR = PLL_M | (PLL_N << 6) | (((2u / 2u) - 1u) << 16) | (1u << 22) | (PLL_Q << 24); /* P=2, src HSE */
    RCC_CR |= RCC_CR_PLLON;
    if (!wait_set(&RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY)) return RP_CLOCK_PLL_TIMEOUT;
#if RP_SYSCLK_HZ > 168000000u
    /* Above 168 MHz the F42x needs the regulator's over-drive, switched on after the PLL locks. */
    PWR_CR |= PWR_CR_ODEN;
    if (!wait_set(&PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY)) return RP_CLOCK_OVERDRIVE_TIMEOUT;
    PWR_CR |= PWR_CR_ODSWEN;
    if (!wait_set(&PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY)) return RP_CLOCK_OVERDRIVE_TIMEOUT;
#endif
    /* Wait states before the faster clock, and only once the flash interface confirms them. */
    FLASH_ACR = FLASH_WS | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN;
    if (!wait_set(&FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_WS)) return RP_CLOCK_FLASH_TIMEOUT;
    RCC_CFGR = (RCC_CFGR & ~(RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK)) |
               RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2; /* APB1 <= 45 MHz, APB2 <= 90 MHz */
    RCC_CFGR = (RCC_CFGR & ~RCC_CFGR_SW_MASK) | RCC_CFGR_SW_PLL;
    if (!wait_set(&RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) return RP_CLOCK_SWITCH_TIMEOUT;
    return RP_CLOCK_PLL;
}

void rp_board_init(void) {
    const rp_clock_status st = start_pll();
    if (st == RP_CLOCK_PLL) {
        clock_hz = RP_SYSCLK_HZ;
        clock_status = st;
    } else {
        fall_back(st);
    }
    rp_ticks_start();
    rp_uart_init(RP_UART_BAUD);
}
