/* The few STM32F4 / Cortex-M4 registers the runtime touches (RM0090, ARMv7-M ARM), for the runtime sources only.
 *
 * Registers are addresses, and every access goes through RP_READ / RP_WRITE (ST's READ_REG / WRITE_REG): on the
 * chip they are plain volatile loads and stores; a host build with RP_REG_MODEL routes each one through a
 * register model that checks RM0090's ordering rules on every write (tests/harness/build/test_register_model.py).
 */
#ifndef RP_STM32F4_REGS_H
#define RP_STM32F4_REGS_H

#include <stdint.h>

#ifdef RP_REG_MODEL
uint32_t rp_reg_model_read(uint32_t addr);
void rp_reg_model_write(uint32_t addr, uint32_t value);
#define RP_READ(addr) rp_reg_model_read(addr)
#define RP_WRITE(addr, value) rp_reg_model_write((addr), (value))
#else
#define RP_READ(addr) (*(volatile uint32_t *)(uintptr_t)(addr))
#define RP_WRITE(addr, value) (*(volatile uint32_t *)(uintptr_t)(addr) = (value))
#endif
/* Interrupt masking and the barriers that let a pended interrupt run: instructions on the chip, nothing in the
 * register model's host build (no interrupt reaches it). */
#ifdef RP_REG_MODEL
#define RP_IRQ_MASK() ((void)0)
#define RP_IRQ_UNMASK() ((void)0)
#define RP_SYNC() ((void)0)
#else
#define RP_IRQ_MASK() __asm volatile("cpsid i" ::: "memory")
#define RP_IRQ_UNMASK() __asm volatile("cpsie i" ::: "memory")
#define RP_SYNC() __asm volatile("dsb\n    isb" ::: "memory") /* an ISB takes a pending interrupt (QEMU ends its block) */
#endif
#define RP_SET(addr, bits) RP_WRITE((addr), RP_READ(addr) | (bits))
#define RP_CLEAR(addr, bits) RP_WRITE((addr), RP_READ(addr) & ~(uint32_t)(bits))
#define RP_MODIFY(addr, clear, set) RP_WRITE((addr), (RP_READ(addr) & ~(uint32_t)(clear)) | (set))

/* RCC */
#define RCC_CR 0x40023800u
#define RCC_PLLCFGR 0x40023804u
#define RCC_CFGR 0x40023808u
#define RCC_AHB1ENR 0x40023830u
#define RCC_APB1ENR 0x40023840u
#define RCC_APB2ENR 0x40023844u
#define RCC_CSR 0x40023874u
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
#define RCC_CFGR_PPRE1_MASK (7u << 10)
#define RCC_CFGR_PPRE1_DIV4 (5u << 10)
#define RCC_CFGR_PPRE2_MASK (7u << 13)
#define RCC_CFGR_PPRE2_DIV2 (4u << 13)
#define RCC_AHB1ENR_GPIOAEN (1u << 0)
#define RCC_AHB1ENR_GPIODEN (1u << 3)
#define RCC_APB1ENR_TIM2EN (1u << 0)
#define RCC_APB1ENR_USART2EN (1u << 17)
#define RCC_APB1ENR_USART3EN (1u << 18)
#define RCC_APB1ENR_PWREN (1u << 28)
#define RCC_APB2ENR_USART1EN (1u << 4)
#define RCC_CSR_LSION (1u << 0)
#define RCC_CSR_RMVF (1u << 24)
#define RCC_CSR_RESET_FLAGS (0x7Fu << 25) /* BOR, PIN, POR, SFT, IWDG, WWDG, LPWR (bits 25..31) */

/* FLASH, PWR (over-drive exists on the F42x/F43x only) */
#define FLASH_ACR 0x40023C00u
#define FLASH_ACR_LATENCY_MASK 0xFu
#define FLASH_ACR_PRFTEN (1u << 8)
#define FLASH_ACR_ICEN (1u << 9)
#define FLASH_ACR_DCEN (1u << 10)
#define PWR_CR 0x40007000u
#define PWR_CSR 0x40007004u
#define PWR_CR_ODEN (1u << 16)
#define PWR_CR_ODSWEN (1u << 17)
#define PWR_CSR_ODRDY (1u << 16)
#define PWR_CSR_ODSWRDY (1u << 17)

/* GPIO ports A (USART1 PA9/PA10, USART2 PA2/PA3) and D (USART3 PD8/PD9) */
#define GPIOA_BASE 0x40020000u
#define GPIOD_BASE 0x40020C00u
#define GPIO_MODER(base) ((base) + 0x00u)
#define GPIO_OSPEEDR(base) ((base) + 0x08u)
#define GPIO_PUPDR(base) ((base) + 0x0Cu)
#define GPIO_AFR(base, pin) ((base) + ((pin) < 8u ? 0x20u : 0x24u))

/* USARTs: the same register block at different addresses. */
#define USART1_BASE 0x40011000u /* APB2 */
#define USART2_BASE 0x40004400u /* APB1 */
#define USART3_BASE 0x40004800u /* APB1 */
#define USART_SR(base) ((base) + 0x00u)
#define USART_DR(base) ((base) + 0x04u)
#define USART_BRR(base) ((base) + 0x08u)
#define USART_CR1(base) ((base) + 0x0Cu)
#define USART_CR2(base) ((base) + 0x10u)
#define USART_CR3(base) ((base) + 0x14u)
#define USART_SR_PE (1u << 0)
#define USART_SR_FE (1u << 1)
#define USART_SR_NF (1u << 2)
#define USART_SR_ORE (1u << 3)
#define USART_SR_RXNE (1u << 5)
#define USART_SR_TC (1u << 6)
#define USART_SR_TXE (1u << 7)
#define USART_CR1_RE (1u << 2)
#define USART_CR1_TE (1u << 3)
#define USART_CR1_RXNEIE (1u << 5)
#define USART_CR1_UE (1u << 13)

/* The UART wired to the host, from the board's uart.name (harness/build/cross.py board_defines): its registers,
 * interrupt, bus (1 = APB1, 2 = APB2), RCC enable bit, GPIO port and TX/RX pins (alternate function 7). */
#ifndef RP_UART_USART
#define RP_UART_USART 1
#endif
#if RP_UART_USART == 1 /* PA9/PA10: QEMU's -serial #0; the Discovery's PA9 is also USB OTG VBUS (not usable) */
#define RP_UART_BASE USART1_BASE
#define RP_UART_IRQN 37u
#define RP_UART_APB 2
#define RP_UART_ENR RCC_APB2ENR
#define RP_UART_EN RCC_APB2ENR_USART1EN
#define RP_UART_GPIO GPIOA_BASE
#define RP_UART_GPIO_EN RCC_AHB1ENR_GPIOAEN
#define RP_UART_TX_PIN 9u
#elif RP_UART_USART == 2 /* PA2/PA3: the STM32F4DISCOVERY's free pair (and the DISC1 ST-LINK/V2-A VCP wiring) */
#define RP_UART_BASE USART2_BASE
#define RP_UART_IRQN 38u
#define RP_UART_APB 1
#define RP_UART_ENR RCC_APB1ENR
#define RP_UART_EN RCC_APB1ENR_USART2EN
#define RP_UART_GPIO GPIOA_BASE
#define RP_UART_GPIO_EN RCC_AHB1ENR_GPIOAEN
#define RP_UART_TX_PIN 2u
#elif RP_UART_USART == 3 /* PD8/PD9: the Nucleo-144 ST-LINK virtual COM port */
#define RP_UART_BASE USART3_BASE
#define RP_UART_IRQN 39u
#define RP_UART_APB 1
#define RP_UART_ENR RCC_APB1ENR
#define RP_UART_EN RCC_APB1ENR_USART3EN
#define RP_UART_GPIO GPIOD_BASE
#define RP_UART_GPIO_EN RCC_AHB1ENR_GPIODEN
#define RP_UART_TX_PIN 8u
#else
#error "RP_UART_USART must be 1 (USART1), 2 (USART2) or 3 (USART3)"
#endif
#define RP_UART_RX_PIN (RP_UART_TX_PIN + 1u)

/* TIM2 */
#define TIM2_CR1 0x40000000u
#define TIM2_EGR 0x40000014u
#define TIM2_CNT 0x40000024u
#define TIM2_PSC 0x40000028u
#define TIM2_ARR 0x4000002Cu

/* IWDG: clocked by the LSI (~32 kHz, 17-47 kHz over parts and temperature) */
#define IWDG_KR 0x40003000u
#define IWDG_PR 0x40003004u
#define IWDG_RLR 0x40003008u
#define IWDG_SR 0x4000300Cu
#define IWDG_KEY_UNLOCK 0x5555u
#define IWDG_KEY_FEED 0xAAAAu
#define IWDG_KEY_START 0xCCCCu

/* Cortex-M4 system control space */
#define SCB_AIRCR 0xE000ED0Cu
#define SCB_VTOR 0xE000ED08u
#define SCB_CFSR 0xE000ED28u
#define SCB_HFSR 0xE000ED2Cu
#define SCB_MMFAR 0xE000ED34u
#define SCB_BFAR 0xE000ED38u
#define SCB_CPACR 0xE000ED88u
#define SCB_AIRCR_SYSRESETREQ (0x05FAu << 16 | 1u << 2)
#define CORE_DEMCR 0xE000EDFCu
#define CORE_DEMCR_TRCENA (1u << 24)
#define DWT_CTRL 0xE0001000u
#define DWT_CYCCNT 0xE0001004u
#define DWT_LAR 0xE0001FB0u
#define DWT_CTRL_CYCCNTENA 1u
#define NVIC_ISER(n) (0xE000E100u + 4u * (n))
#define NVIC_ISPR(n) (0xE000E200u + 4u * (n))
#define MPU_CTRL 0xE000ED94u
#define MPU_RNR 0xE000ED98u
#define MPU_RBAR 0xE000ED9Cu
#define MPU_RASR 0xE000EDA0u

/* Clock-tree facts the UART and TIM2 code need (runtime/clock.c): the bus clocks as they are now. */
uint32_t rp_board_pclk1_hz(void);
uint32_t rp_board_pclk2_hz(void);
uint32_t rp_board_tim_apb1_hz(void);

#endif /* RP_STM32F4_REGS_H */
