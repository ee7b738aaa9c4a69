/* rp_ticks on TIM2 (0x40000000), prescaler 0: QEMU models no RCC, so enabling its clock is a harmless write. */
#include "rp_runtime.h"

#define REG(addr) (*(volatile uint32_t *)(addr))

void rp_ticks_start(void) {
    REG(0x40023840) |= 1u;      /* RCC_APB1ENR.TIM2EN (real boards) */
    REG(0x40000028) = 0;        /* PSC */
    REG(0x4000002C) = 0xFFFFFFFFu; /* ARR */
    REG(0x40000014) = 1u;       /* EGR.UG: load PSC */
    REG(0x40000024) = 0;        /* CNT */
    REG(0x40000000) = 1u;       /* CR1.CEN */
}

uint32_t rp_ticks(void) { return REG(0x40000024); }
