/* Reset handler and vector table for the STM32F4 (Cortex-M4F): copy .data, zero .bss, enable the FPU, run main,
 * then report its return value and stop (semihosting exit on the emulator). */
#include <stdint.h>

#include "rp_runtime.h"

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _estack;
int main(void);

void Reset_Handler(void) {
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    *(volatile uint32_t *)0xE000ED88 |= 0xFu << 20; /* CPACR: full access to CP10/CP11 (the FPU) */
    __asm volatile("dsb\n isb");
    rp_exit(main());
}

static void Default_Handler(void) { rp_exit(0x7F); }

void HardFault_Handler(void) { rp_exit(0x7E); }

__attribute__((section(".isr_vector"), used)) static void (*const vectors[16])(void) = {
    (void (*)(void))&_estack, Reset_Handler, Default_Handler, HardFault_Handler, Default_Handler, Default_Handler,
    Default_Handler, 0, 0, 0, 0, Default_Handler, Default_Handler, 0, Default_Handler, Default_Handler,
};
