/* rp_ticks: one free-running 32-bit counter, picked at build time by RP_TICKS_DWT. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#if RP_TICKS_DWT
/* DWT CYCCNT counts core cycles on real boards (QEMU's DWT reads 0; Renode needs a DWT in its .repl). */
void rp_ticks_start(void) {
    rp_ticks_arm();
    RP_WRITE(DWT_CYCCNT, 0);
}

/* A debugger that closes with resume_on_disconnect (pyOCD's default) writes DEMCR = 0, which powers the DWT down
 * and stops CYCCNT: re-arm before every measurement. */
void rp_ticks_arm(void) {
    RP_SET(CORE_DEMCR, CORE_DEMCR_TRCENA); /* the DWT is powered off until TRCENA */
    /* The M7 (and Renode's "cortex-m4f", which is its M7 model) ignore DWT writes until the CoreSight lock access
     * register gets this key; a real M4 has no lock there and ignores the write. */
    RP_WRITE(DWT_LAR, 0xC5ACCE55u);
    RP_SET(DWT_CTRL, DWT_CTRL_CYCCNTENA);
}

uint32_t rp_ticks(void) { return RP_READ(DWT_CYCCNT); }

uint32_t rp_ticks_hz(void) { return rp_board_clock_hz(); }
#else  /* !RP_TICKS_DWT */
/* TIM2 at prescaler 0: under qemu -icount shift=0 one tick per instruction, identical in every run. */
void rp_ticks_start(void) {
    RP_SET(RCC_APB1ENR, RCC_APB1ENR_TIM2EN); /* real boards; QEMU models no RCC and ignores it */
    (void)RP_READ(RCC_APB1ENR);              /* the enable lands before the first TIM2 access (errata) */
    RP_WRITE(TIM2_CR1, 0);
    RP_WRITE(TIM2_PSC, 0);
    RP_WRITE(TIM2_ARR, 0xFFFFFFFFu);
    RP_WRITE(TIM2_EGR, 1u); /* UG: load PSC now rather than at the first overflow */
    RP_WRITE(TIM2_CNT, 0);
    RP_WRITE(TIM2_CR1, 1u); /* CEN */
}

/* Nothing outside the firmware stops TIM2 (a halted core freezes it only while halted, DBGMCU). */
void rp_ticks_arm(void) {}

uint32_t rp_ticks(void) { return RP_READ(TIM2_CNT); }

uint32_t rp_ticks_hz(void) { return rp_board_tim_apb1_hz(); }
#endif /* RP_TICKS_DWT */
