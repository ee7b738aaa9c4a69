/* rp_board_init: reset cause, HSE -> PLL -> RP_SYSCLK_HZ with bounded waits (RM0090 section 6), then the
 * watchdog, ticks and UART.
 *
 * Order (RM0090 6.3, 5.1.4): HSE off -> HSEBYP set for the board's mode (only while HSE is off) -> HSE on -> PWR
 * clock -> PLL configured while off -> PLL on and locked -> over-drive (above 168 MHz, F42x/F43x) -> flash wait
 * states and ART read back -> APB prescalers -> switch. Any ready bit that does not come within
 * RP_CLOCK_POLL_LIMIT polls leaves the chip on the 16 MHz HSI and the reason in rp_board_clock_status(), except an
 * over-drive that does not come up: the PLL is locked then, so the chip runs at 168 MHz and says so. QEMU does not
 * model the RCC (its registers read 0), so there it always ends with RP_CLOCK_HSE_TIMEOUT. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#ifndef RP_SYSCLK_HZ
#define RP_SYSCLK_HZ 168000000u
#endif
#ifndef RP_HSE_HZ
#define RP_HSE_HZ 8000000u
#endif
/* 1: an external clock drives OSC_IN (Nucleo-144: the ST-LINK's 8 MHz MCO); 0: a crystal (Discovery). */
#ifndef RP_HSE_BYPASS
#define RP_HSE_BYPASS 0
#endif
/* The part's top speed: 168 MHz for the F40x/F41x, 180 MHz (with over-drive) for the F42x/F43x. */
#ifndef RP_MCU_MAX_HZ
#define RP_MCU_MAX_HZ 168000000u
#endif
/* ~6 cycles a poll at 16 MHz: 200k polls is ~75 ms, above HAL's 100 ms-class HSE start-up budget in practice. */
#ifndef RP_CLOCK_POLL_LIMIT
#define RP_CLOCK_POLL_LIMIT 200000u
#endif

#define HSI_HZ 16000000u
#define NO_OVERDRIVE_HZ 168000000u /* the F42x's limit without over-drive (RM0090 5.1.4) */
/* PLL input 2 MHz (the reference manual's jitter recommendation), VCO = 2 * SYSCLK, PLLP = 2. */
#define PLL_M (RP_HSE_HZ / 2000000u)
#define PLL_N(hz) ((hz) / 1000000u)
#define PLL_Q(hz) ((2u * (hz) + 47999999u) / 48000000u) /* USB/SDIO clock at most 48 MHz */
/* 2.7-3.6 V supply: one wait state per 30 MHz of HCLK. */
#define FLASH_WS(hz) (((hz) - 1u) / 30000000u)

_Static_assert(RP_HSE_HZ % 2000000u == 0 && RP_HSE_HZ >= 4000000u && RP_HSE_HZ <= 26000000u,
               "RP_HSE_HZ must be a multiple of 2 MHz within the HSE's 4-26 MHz");
_Static_assert(RP_SYSCLK_HZ % 1000000u == 0, "RP_SYSCLK_HZ must be whole MHz");
/* VCO = 2 MHz x N with N >= 50, and P = 2: the PLL cannot make less than 50 MHz. */
_Static_assert(RP_SYSCLK_HZ >= 50000000u, "RP_SYSCLK_HZ below the PLL's 50 MHz minimum (N >= 50)");
_Static_assert(RP_MCU_MAX_HZ == 168000000u || RP_MCU_MAX_HZ == 180000000u, "RP_MCU_MAX_HZ is 168 or 180 MHz");
_Static_assert(RP_SYSCLK_HZ <= RP_MCU_MAX_HZ, "RP_SYSCLK_HZ above this part's maximum (RP_MCU_MAX_HZ)");
_Static_assert(PLL_Q(RP_SYSCLK_HZ) >= 2 && PLL_Q(RP_SYSCLK_HZ) <= 15, "PLLQ out of range");

static uint32_t clock_hz = HSI_HZ;
static rp_clock_status clock_status = RP_CLOCK_NOT_SET;
static uint32_t reset_flags;

uint32_t rp_board_clock_hz(void) { return clock_hz; }
rp_clock_status rp_board_clock_status(void) { return clock_status; }
uint32_t rp_board_reset_flags(void) { return reset_flags; }

static int on_pll(void) { return clock_status == RP_CLOCK_PLL || clock_status == RP_CLOCK_PLL_NO_OVERDRIVE; }

/* APB1 runs at HCLK/4 and APB2 at HCLK/2 on the PLL, both undivided on the HSI fallback; timers on a divided APB
 * bus run at twice its clock. */
uint32_t rp_board_pclk1_hz(void) { return on_pll() ? clock_hz / 4u : clock_hz; }
uint32_t rp_board_pclk2_hz(void) { return on_pll() ? clock_hz / 2u : clock_hz; }
uint32_t rp_board_tim_apb1_hz(void) { return on_pll() ? clock_hz / 2u : clock_hz; }

static int wait_bits(uint32_t reg, uint32_t mask, uint32_t value) {
    for (uint32_t i = 0; i < RP_CLOCK_POLL_LIMIT; i++)
        if ((RP_READ(reg) & mask) == value) return 1;
    return 0;
}

/* HSEBYP may change only while the HSE is off (RM0090 6.3.1): off, stopped, the board's mode, then on. */
static int start_hse(void) {
    RP_CLEAR(RCC_CR, RCC_CR_HSEON);
    if (!wait_bits(RCC_CR, RCC_CR_HSERDY, 0)) return 0;
    if (RP_HSE_BYPASS) RP_SET(RCC_CR, RCC_CR_HSEBYP);
    else RP_CLEAR(RCC_CR, RCC_CR_HSEBYP);
    RP_SET(RCC_CR, RCC_CR_HSEON);
    return wait_bits(RCC_CR, RCC_CR_HSERDY, RCC_CR_HSERDY);
}

/* The PLL may be configured only while it is off (RM0090 6.3.2). */
static int start_pll_at(uint32_t hz) {
    RP_CLEAR(RCC_CR, RCC_CR_PLLON);
    if (!wait_bits(RCC_CR, RCC_CR_PLLRDY, 0)) return 0;
    RP_WRITE(RCC_PLLCFGR, PLL_M | (PLL_N(hz) << 6) | (((2u / 2u) - 1u) << 16) | (1u << 22) | (PLL_Q(hz) << 24));
    RP_SET(RCC_CR, RCC_CR_PLLON);
    return wait_bits(RCC_CR, RCC_CR_PLLRDY, RCC_CR_PLLRDY);
}

#if RP_SYSCLK_HZ > NO_OVERDRIVE_HZ
/* Above 168 MHz the F42x needs the regulator's over-drive, switched on while the PLL is locked and still on the
 * HSI/HSE (RM0090 5.1.4). On a timeout both enables go off again. */
static int start_overdrive(void) {
    RP_SET(PWR_CR, PWR_CR_ODEN);
    if (wait_bits(PWR_CSR, PWR_CSR_ODRDY, PWR_CSR_ODRDY)) {
        RP_SET(PWR_CR, PWR_CR_ODSWEN);
        if (wait_bits(PWR_CSR, PWR_CSR_ODSWRDY, PWR_CSR_ODSWRDY)) return 1;
    }
    RP_CLEAR(PWR_CR, PWR_CR_ODEN | PWR_CR_ODSWEN);
    return 0;
}
#endif

/* Back to the reset clock tree; flash wait states are left as they are (more than needed is only slower). */
static void fall_back(rp_clock_status why) {
    RP_CLEAR(RCC_CFGR, RCC_CFGR_SW_MASK | RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK);
    (void)wait_bits(RCC_CFGR, RCC_CFGR_SWS_MASK, 0);
    RP_CLEAR(RCC_CR, RCC_CR_PLLON);
    RP_CLEAR(RCC_CR, RCC_CR_HSEON);
    clock_hz = HSI_HZ;
    clock_status = why;
}

static rp_clock_status start_clock(uint32_t *hz) {
    rp_clock_status ok = RP_CLOCK_PLL;
    *hz = RP_SYSCLK_HZ;
    if (!start_hse()) return RP_CLOCK_HSE_TIMEOUT;
    /* VOS scale 1 (needed above 144 MHz) is the reset value on the F40x and F42x alike; over-drive lives in PWR. */
    RP_SET(RCC_APB1ENR, RCC_APB1ENR_PWREN);
    (void)RP_READ(RCC_APB1ENR); /* the read-back gives the enable two cycles before PWR is touched (errata) */
    if (!start_pll_at(RP_SYSCLK_HZ)) return RP_CLOCK_PLL_TIMEOUT;
#if RP_SYSCLK_HZ > NO_OVERDRIVE_HZ
    if (!start_overdrive()) { /* the PLL works: 168 MHz needs no over-drive, which beats the 16 MHz HSI */
        if (!start_pll_at(NO_OVERDRIVE_HZ)) return RP_CLOCK_PLL_TIMEOUT;
        *hz = NO_OVERDRIVE_HZ;
        ok = RP_CLOCK_PLL_NO_OVERDRIVE;
    }
#endif
    /* Wait states and the ART before the faster clock, and only once the flash interface confirms them. */
    RP_WRITE(FLASH_ACR, FLASH_WS(*hz) | FLASH_ACR_PRFTEN | FLASH_ACR_ICEN | FLASH_ACR_DCEN);
    if (!wait_bits(FLASH_ACR, FLASH_ACR_LATENCY_MASK, FLASH_WS(*hz))) return RP_CLOCK_FLASH_TIMEOUT;
    RP_MODIFY(RCC_CFGR, RCC_CFGR_HPRE_MASK | RCC_CFGR_PPRE1_MASK | RCC_CFGR_PPRE2_MASK,
              RCC_CFGR_PPRE1_DIV4 | RCC_CFGR_PPRE2_DIV2); /* APB1 <= 42/45 MHz, APB2 <= 84/90 MHz */
    RP_MODIFY(RCC_CFGR, RCC_CFGR_SW_MASK, RCC_CFGR_SW_PLL);
    if (!wait_bits(RCC_CFGR, RCC_CFGR_SWS_MASK, RCC_CFGR_SWS_PLL)) return RP_CLOCK_SWITCH_TIMEOUT;
    return ok;
}

/* RCC_CSR's reset flags say why we booted; they stick until cleared, so clear them for the next boot to tell. */
static void take_reset_flags(void) {
    reset_flags = (RP_READ(RCC_CSR) & RCC_CSR_RESET_FLAGS) >> 25;
    RP_SET(RCC_CSR, RCC_CSR_RMVF);
}

void rp_board_init(void) {
    take_reset_flags();
    uint32_t hz;
    const rp_clock_status st = start_clock(&hz);
    if (st == RP_CLOCK_PLL || st == RP_CLOCK_PLL_NO_OVERDRIVE) {
        clock_hz = hz;
        clock_status = st;
    } else {
        fall_back(st);
    }
    rp_watchdog_start();
    rp_ticks_start();
    rp_uart_init(RP_UART_BAUD);
    rp_uart_calibrate_isr();
}

void rp_board_reset(void) {
    __asm volatile("dsb" ::: "memory");
    RP_WRITE(SCB_AIRCR, SCB_AIRCR_SYSRESETREQ);
    __asm volatile("dsb" ::: "memory");
    for (;;) {
    }
}
