/* Reset_Handler: copy .data, zero .bss and .ccmram, enable the FPU, point VTOR at our table, paint the stack
 * reserve, run main, then rp_exit with its return value. Also the stack high-water mark read back from that paint. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

#define STACK_PAINT 0xA5C3E187u /* unlikely as data: not 0, not -1, no repeated byte */

extern uint32_t _sidata, _sdata, _edata, _sbss, _ebss, _sccmram, _eccmram, _sstack, _estack;
extern uint8_t _stack_size[];               /* an absolute linker symbol: its address is the value */
extern void (*const rp_vectors[])(void);    /* runtime/vectors.c */
int main(void);

void Reset_Handler(void) {
    for (uint32_t *src = &_sidata, *dst = &_sdata; dst < &_edata;) *dst++ = *src++;
    for (uint32_t *dst = &_sbss; dst < &_ebss;) *dst++ = 0;
    /* Core-coupled RAM is NOLOAD and keeps whatever the last run or power-up left: C says zero, so zero it. */
    for (uint32_t *dst = &_sccmram; dst < &_eccmram;) *dst++ = 0;
    RP_SET(SCB_CPACR, 0xFu << 20); /* full access to CP10/CP11 (the FPU) */
    /* A debugger or Renode may start us from a load address without the flash alias at 0: take the table from
     * where it was linked. */
    RP_WRITE(SCB_VTOR, (uint32_t)rp_vectors);
    __asm volatile("dsb\n isb");
    /* This function already runs on the stack: paint only below its own frame. Nothing else uses the stack until
     * main is called (no interrupt is enabled yet), and the loop itself needs no stack. */
    uint32_t *sp;
    __asm volatile("mov %0, sp" : "=r"(sp));
    for (volatile uint32_t *p = &_sstack; p < sp; p++) *p = STACK_PAINT;
    rp_exit(main());
}

uint32_t rp_stack_size(void) { return (uint32_t)_stack_size; }

uint32_t rp_stack_high_water(void) {
    const uint32_t *p = &_sstack;
    while (p < &_estack && *p == STACK_PAINT) p++;
    return (uint32_t)((const uint8_t *)&_estack - (const uint8_t *)p);
}
