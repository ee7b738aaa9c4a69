/* The STM32F4 vector table: 16 system entries and the 91 interrupts of the largest F4 in boards.yaml (F429/F439;
 * the F405/F407 use the first 82). Every handler is a weak alias of Default_Handler, so a driver overrides one by
 * defining a function with its name (runtime/uart.c: USART1_IRQHandler). */
#include "rp_runtime.h"

extern uint32_t _estack;
void Reset_Handler(void);
void HardFault_Handler(void);                       /* runtime/fault.c */
void rp_fault_unhandled(uint32_t exception);        /* runtime/fault.c */

void Default_Handler(void) {
    uint32_t ipsr;
    __asm volatile("mrs %0, ipsr" : "=r"(ipsr));
    rp_fault_unhandled(ipsr & 0x1FFu);
}

#define RP_SYSTEM_HANDLERS(X) X(NMI) X(SVC) X(DebugMon) X(PendSV) X(SysTick)
#define RP_IRQS(X)                                                                                                 \
    X(WWDG) X(PVD) X(TAMP_STAMP) X(RTC_WKUP) X(FLASH) X(RCC) X(EXTI0) X(EXTI1) X(EXTI2) X(EXTI3) X(EXTI4)          \
    X(DMA1_Stream0) X(DMA1_Stream1) X(DMA1_Stream2) X(DMA1_Stream3) X(DMA1_Stream4) X(DMA1_Stream5)                \
    X(DMA1_Stream6) X(ADC) X(CAN1_TX) X(CAN1_RX0) X(CAN1_RX1) X(CAN1_SCE) X(EXTI9_5) X(TIM1_BRK_TIM9)               \
    X(TIM1_UP_TIM10) X(TIM1_TRG_COM_TIM11) X(TIM1_CC) X(TIM2) X(TIM3) X(TIM4) X(I2C1_EV) X(I2C1_ER) X(I2C2_EV)      \
    X(I2C2_ER) X(SPI1) X(SPI2) X(USART1) X(USART2) X(USART3) X(EXTI15_10) X(RTC_Alarm) X(OTG_FS_WKUP)               \
    X(TIM8_BRK_TIM12) X(TIM8_UP_TIM13) X(TIM8_TRG_COM_TIM14) X(TIM8_CC) X(DMA1_Stream7) X(FSMC) X(SDIO) X(TIM5)     \
    X(SPI3) X(UART4) X(UART5) X(TIM6_DAC) X(TIM7) X(DMA2_Stream0) X(DMA2_Stream1) X(DMA2_Stream2) X(DMA2_Stream3)   \
    X(DMA2_Stream4) X(ETH) X(ETH_WKUP) X(CAN2_TX) X(CAN2_RX0) X(CAN2_RX1) X(CAN2_SCE) X(OTG_FS) X(DMA2_Stream5)     \
    X(DMA2_Stream6) X(DMA2_Stream7) X(USART6) X(I2C3_EV) X(I2C3_ER) X(OTG_HS_EP1_OUT) X(OTG_HS_EP1_IN)              \
    X(OTG_HS_WKUP) X(OTG_HS) X(DCMI) X(CRYP) X(HASH_RNG) X(FPU) X(UART7) X(UART8) X(SPI4) X(SPI5) X(SPI6) X(SAI1)  \
    X(LTDC) X(LTDC_ER) X(DMA2D)

#define DECLARE_SYSTEM(name) void name##_Handler(void) __attribute__((weak, alias("Default_Handler")));
#define DECLARE_IRQ(name) void name##_IRQHandler(void) __attribute__((weak, alias("Default_Handler")));
RP_SYSTEM_HANDLERS(DECLARE_SYSTEM)
RP_IRQS(DECLARE_IRQ)
#define ENTRY_IRQ(name) name##_IRQHandler,

/* MemManage, BusFault and UsageFault are disabled at reset (they escalate to HardFault); should someone enable
 * them, they report through the same handler, whose CFSR tells them apart. */
__attribute__((section(".isr_vector"), used)) void (*const rp_vectors[])(void) = {
    (void (*)(void))&_estack, Reset_Handler, NMI_Handler, HardFault_Handler,
    HardFault_Handler, HardFault_Handler, HardFault_Handler, 0, 0, 0, 0,
    SVC_Handler, DebugMon_Handler, 0, PendSV_Handler, SysTick_Handler,
    RP_IRQS(ENTRY_IRQ)
};

_Static_assert(sizeof rp_vectors / sizeof rp_vectors[0] == 16 + 91, "STM32F42x/43x vector table: 16 + 91 entries");
