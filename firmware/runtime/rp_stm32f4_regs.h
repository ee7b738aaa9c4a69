/* The few STM32F4 / Cortex-M4 registers the runtime touches (RM0090, ARMv7-M ARM), for the runtime sources only. */
#ifndef RP_STM32F4_REGS_H
#define RP_STM32F4_REGS_H

#include <stdint.h>

#define RP_REG(addr) (*(volatile uint32_t *)(addr))

/* RCC */
#define RCC_CR RP_REG(0x40023800u)
#define RCC_PLLCFGR RP_REG(0x40023804u)
#define RCC_CFGR RP_REG(0x40023808u)
#define RCC_AHB1ENR RP_REG(0x40023830u)
#define RCC_APB1ENR RP_REG(0x40023840u)
#define RCC_APB2ENR RP_REG(0x40023844u)
#define RCC_CR_HSEON (1u << 16)
#define RCC_CR_HSERDY (1u << 17)
#define RCC_CR_HSEBYP (1u << 18)
#define RCC_CR_PLLON (1u << 24)
#define RCC_CR_PLLRDY (1u << 25)
#define RCC_CFGR_SW_MASK 3u
#define RCC_CFGR_SW_PLL 2u
#define RCC_CFGR_SWS_MASK (3u << 2)
#define RCC_CFGR_SWS_PLL (2u << 2)
#define RCC_CFGR_HPRE_MASK (0xFu << 4)
#define RCC_CFGR_PPRE1_SHIFT 10u
#define RCC_CFGR_PPRE1_MASK (7u << 10)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_MASK (7u << 13)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_AHB1ENR_GPIODEN (1u << 3)
#define RCC_APB1ENR_TIM2EN (1u << 0)
#define RCC_APB1ENR_USART3EN (1u << 18)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_APB2ENR_USART1EN (1u << 4)

/* FLASH, PWR (over-drive exists on the F42x/F43x only) */
#define FLASH_ACR RP_REG(0x40023C00u)
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define PWR_CR RP_REG(0x40007000u)
#define PWR_CSR RP_REG(0x40007004u)
#define PWR_CR_ODEN (1u << 16)
#define PWR_CR_ODSWEN (1u << 17)
#define PWR_CSR_ODRDY (1u << 16)
#define PWR_CSR_ODSWRDY (1u << 17)

/* GPIOA (USART1 pins), GPIOD (USART3 pins) */
#define GPIOA_MODER RP_REG(0x40020000u)
#define GPIOA_OSPEEDR RP_REG(0x40020008u)
#define GPIOA_PUPDR RP_REG(0x4002000Cu)
#define GPIOA_AFRH RP_REG(0x40020024u)
#define GPIOD_MODER RP_REG(0x40020C00u)
#define GPIOD_OSPEEDR RP_REG(0x40020C08u)
#define GPIOD_PUPDR RP_REG(0x40020C0Cu)
#define GPIOD_AFRH RP_REG(0x40020C24u)

/* USARTs: the same register block at different addresses. */
#define USART1_BASE 0x40011000u /* APB2 */
#define USART3_BASE 0x40004800u /* APB1 */
#define USART_SR(base) RP_REG((base) + 0x00u)
#define USART_DR(base) RP_REG((base) + 0x04u)
#define USART_BRR(base) RP_REG((base) + 0x08u)
#define USART_CR1(base) RP_REG((base) + 0x0Cu)
#define USART_CR2(base) RP_REG((base) + 0x10u)
#define USART_CR3(base) RP_REG((base) + 0x14u)
#define USART1_SR USART_SR(USART1_BASE)
#define USART1_DR USART_DR(USART1_BASE)
#define USART1_BRR USART_BRR(USART1_BASE)
#define USART1_CR1 USART_CR1(USART1_BASE)
#define USART1_CR2 USART_CR2(USART1_BASE)
#define USART1_CR3 USART_CR3(USART1_BASE)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_UE (1u << 13)
#define USART1_IRQN 37u
#define USART3_IRQN 39u

/* The UART wired to the host, from the board's uart.name (harness/build/cross.py board_defines):
 * RP_UART_USART 1 = USART1 on PA9/PA10 (QEMU's -serial #0, the discovery board via a USB-serial adapter),
 * RP_UART_USART 3 = USART3 on PD8/PD9 (the Nucleo-144 ST-LINK virtual COM port). */
#ifndef RP_UART_USART
#define RP_UART_USART 1
#endif
#if RP_UART_USART == 1
#define RP_UART_BASE USART1_BASE
#define RP_UART_IRQN USART1_IRQN
#elif RP_UART_USART == 3
#define RP_UART_BASE USART3_BASE
#define RP_UART_IRQN USART3_IRQN
#else
#error "RP_UART_USART must be 1 (USART1) or 3 (USART3)"
#endif
#define RP_UART_SR USART_SR(RP_UART_BASE)
#define RP_UART_DR USART_DR(RP_UART_BASE)
#define RP_UART_BRR USART_BRR(RP_UART_BASE)
#define RP_UART_CR1 USART_CR1(RP_UART_BASE)
#define RP_UART_CR2 USART_CR2(RP_UART_BASE)
#define RP_UART_CR3 USART_CR3(RP_UART_BASE)

/* TIM2 */
#define TIM2_CR1 RP_REG(0x40000000u)
#define TIM2_EGR RP_REG(0x40000014u)
#define TIM2_CNT RP_REG(0x40000024u)
#define TIM2_PSC RP_REG(0x40000028u)
#define TIM2_ARR RP_REG(0x4000002Cu)

/* Cortex-M4 system control space */
#define SCB_VTOR RP_REG(0xE000ED08u)
#define SCB_CFSR RP_REG(0xE000ED28u)
#define SCB_HFSR RP_REG(0xE000ED2Cu)
#define SCB_MMFAR RP_REG(0xE000ED34u)
#define SCB_BFAR RP_REG(0xE000ED38u)
#define SCB_CPACR RP_REG(0xE000ED88u)
#define CORE_DEMCR RP_REG(0xE000EDFCu)
#define CORE_DEMCR_TRCENA (1u << 24)
#define DWT_CTRL RP_REG(0xE0001000u)
#define DWT_CYCCNT RP_REG(0xE0001004u)
#define DWT_LAR RP_REG(0xE0001FB0u)
#define DWT_CTRL_CYCCNTENA 1u
#define NVIC_ISER(n) RP_REG(0xE000E100u + 4u * (n))

/* Clock-tree facts the UART and TIM2 code need (runtime/clock.c). */
uint32_t rp_board_pclk2_hz(void);
uint32_t rp_board_tim_apb1_hz(void);

#endif /* RP_STM32F4_REGS_H */
