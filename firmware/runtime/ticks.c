/* rp_ticks: one free-running 32-bit counter, picked at build time by RP_TICKS_DWT. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#if RP_TICKS_DWT
/* DWT CYCCNT counts core cycles on real boards (QEMU's DWT reads 0; Renode needs a DWT in its .repl). */
void rp_ticks_start(void) {
    CORE_DEMCR |= CORE_DEMCR_TRCENA; /* the DWT is powered off until TRCENA */
    /* The M7 (and Renode's "cortex-m4f", which is its M7 model) ignore DWT writes until the CoreSight lock access
     * register gets this key; a real M4 has no lock there and ignores the write. */
    DWT_LAR = 0xC5ACCE55u;
    DWT_CYCCNT = 0;
    DWT_CTRL |= DWT_CTRL_CYCCNTENA;
}

uint32_t rp_ticks(void) { return DWT_CYCCNT; }

uint32_t rp_ticks_hz(void) { return rp_board_clock_hz(); }
#else  /* !RP_TICKS_DWT */
/* TIM2 at prescaler 0: under qemu -icount shift=0 one tick per instruction, identical in every run. */
void rp_ticks_start(void) {
    RCC_APB1ENR |= RCC_APB1ENR_TIM2EN; /* real boards; QEMU models no RCC and ignores it */
    TIM2_CR1 = 0;
    TIM2_PSC = 0;
    TIM2_ARR = 0xFFFFFFFFu;
    TIM2_EGR = 1u; /* UG: load PSC now rather than at the first overflow */
    TIM2_CNT = 0;
    TIM2_CR1 = 1u; /* CEN */
}

uint32_t rp_ticks(void) { return TIM2_CNT; }

uint32_t rp_ticks_hz(void) { return rp_board_tim_apb1_hz(); }
#endif /* RP_TICKS_DWT */
