/* The host UART (RP_UART_USART: USART1 on PA9/PA10 or USART3 on PD8/PD9, see rp_stm32f4_regs.h): interrupt-driven
 * receive into a ring, polled transmit. The TXE interrupt is never enabled: QEMU keeps TXE set, so an enabled
 * TXEIE would fire without end (qemu notes, pitfall 8). QEMU ignores the RCC and GPIO writes. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

_Static_assert(RP_UART_RX_SIZE >= 2 && (RP_UART_RX_SIZE & (RP_UART_RX_SIZE - 1)) == 0,
               "RP_UART_RX_SIZE must be a power of two");

/* Single producer (the ISR advances head) and single consumer (rp_uart_read advances tail); free-running
 * counters, so head - tail is the fill level even across wrap-around. */
static uint8_t rx_ring[RP_UART_RX_SIZE];
static volatile uint32_t rx_head, rx_tail, rx_dropped;

#define BARRIER() __asm volatile("" ::: "memory")

#if RP_UART_USART == 3
#define RP_UART_IRQHandler USART3_IRQHandler

/* clock.c exposes no PCLK1 and divides APB1 only on the PLL: read the divider back (QEMU: 0, undivided). */
static uint32_t uart_kernel_hz(void) {
    const uint32_t ppre1 = (RCC_CFGR & RCC_CFGR_PPRE1_MASK) >> RCC_CFGR_PPRE1_SHIFT;
    return ppre1 < 4u ? rp_board_clock_hz() : rp_board_clock_hz() >> (ppre1 - 3u);
}

/* PD8 (TX) and PD9 (RX): alternate function 7, fast, pull-up on RX so an unplugged line reads idle. */
static void uart_enable_clock_and_pins(void) {
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIODEN;
    RCC_APB1ENR |= RCC_APB1ENR_USART3EN;
    (void)RCC_APB1ENR; /* a read-back gives the enable two cycles before the first peripheral access (errata) */
    GPIOD_MODER = (GPIOD_MODER & ~(0xFu << 16)) | (0xAu << 16);
    GPIOD_OSPEEDR = (GPIOD_OSPEEDR & ~(0xFu << 16)) | (0xAu << 16);
    GPIOD_PUPDR = (GPIOD_PUPDR & ~(0xFu << 16)) | (0x1u << 18);
    GPIOD_AFRH = (GPIOD_AFRH & ~0xFFu) | 0x77u;
}
#else
#define RP_UART_IRQHandler USART1_IRQHandler

static uint32_t uart_kernel_hz(void) { return rp_board_pclk2_hz(); }

/* PA9 (TX) and PA10 (RX): alternate function 7, fast, pull-up on RX so an unplugged line reads idle. */
static void uart_enable_clock_and_pins(void) {
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* a read-back gives the enable two cycles before the first peripheral access (errata) */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 18)) | (0xAu << 18);
    GPIOA_OSPEEDR = (GPIOA_OSPEEDR & ~(0xFu << 18)) | (0xAu << 18);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(0xFu << 18)) | (0x1u << 20);
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4)) | (0x77u << 4);
}
#endif /* RP_UART_USART */

void rp_uart_init(uint32_t baud) {
    RP_UART_CR1 = 0; /* quiet while reconfiguring */
    uart_enable_clock_and_pins();
    /* 16x oversampling: BRR (mantissa:fraction) is simply f_pclk / baud, rounded. */
    RP_UART_BRR = (uart_kernel_hz() + baud / 2u) / baud;
    RP_UART_CR2 = 0; /* 1 stop bit */
    RP_UART_CR3 = 0; /* no flow control, no DMA */
    rx_head = rx_tail = rx_dropped = 0;
    RP_UART_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE; /* 8 data bits, no parity */
    NVIC_ISER(RP_UART_IRQN / 32u) = 1u << (RP_UART_IRQN % 32u);
}

void RP_UART_IRQHandler(void) {
    uint32_t sr;
    /* Reading SR then DR clears RXNE and the error flags (ORE, NE, FE) together. */
    while ((sr = RP_UART_SR) & (USART_SR_RXNE | USART_SR_ORE)) {
        const uint8_t byte = (uint8_t)RP_UART_DR;
        if (sr & USART_SR_ORE) rx_dropped = rx_dropped + 1u; /* the shift register lost at least one byte */
        const uint32_t head = rx_head;
        if (head - rx_tail < RP_UART_RX_SIZE) {
            rx_ring[head & (RP_UART_RX_SIZE - 1u)] = byte;
            BARRIER(); /* the byte is stored before the reader can see the new head */
            rx_head = head + 1u;
        } else {
            rx_dropped = rx_dropped + 1u;
        }
    }
}

int32_t rp_uart_read(uint8_t *dst, int32_t max) {
    const uint32_t head = rx_head;
    BARRIER(); /* no ring read may move above the head read */
    uint32_t tail = rx_tail;
    int32_t n = 0;
    while (n < max && tail != head) dst[n++] = rx_ring[tail++ & (RP_UART_RX_SIZE - 1u)];
    BARRIER(); /* copied before the slots go back to the ISR */
    rx_tail = tail;
    return n;
}

int32_t rp_uart_rx_available(void) { return (int32_t)(rx_head - rx_tail); }

uint32_t rp_uart_rx_dropped(void) { return rx_dropped; }

void rp_uart_write(const void *data, int32_t n) {
    const uint8_t *p = data;
    for (int32_t i = 0; i < n; i++) {
        while (!(RP_UART_SR & USART_SR_TXE)) {
        }
        RP_UART_DR = p[i];
    }
}

void rp_uart_flush(void) {
    /* Bounded: the transmitter may be disabled (rp_uart_init never ran) and then TC means nothing. */
    for (uint32_t i = 0; i < 1000000u && !(RP_UART_SR & USART_SR_TC); i++) {
    }
}
