/* USART1: interrupt-driven receive into a ring, polled transmit. The TXE interrupt is never enabled: QEMU keeps
 * TXE set, so an enabled TXEIE would fire without end (qemu notes, pitfall 8). */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

_Static_assert(RP_UART_RX_SIZE >= 2 && (RP_UART_RX_SIZE & (RP_UART_RX_SIZE - 1)) == 0,
               "RP_UART_RX_SIZE must be a power of two");

/* Single producer (the ISR advances head) and single consumer (rp_uart_read advances tail); free-running
 * counters, so head - tail is the fill level even across wrap-around. */
static uint8_t rx_ring[RP_UART_RX_SIZE];
static volatile uint32_t rx_head, rx_tail, rx_dropped;

#define BARRIER() __asm volatile("" ::: "memory")

void rp_uart_init(uint32_t baud) {
    USART1_CR1 = 0; /* quiet while reconfiguring */
    RCC_AHB1ENR |= RCC_AHB1ENR_GPIOAEN;
    RCC_APB2ENR |= RCC_APB2ENR_USART1EN;
    (void)RCC_APB2ENR; /* a read-back gives the enable two cycles before the first peripheral access (errata) */
    /* PA9 (TX) and PA10 (RX): alternate function 7, fast, pull-up on RX so an unplugged line reads idle. */
    GPIOA_MODER = (GPIOA_MODER & ~(0xFu << 18)) | (0xAu << 18);
    GPIOA_OSPEEDR = (GPIOA_OSPEEDR & ~(0xFu << 18)) | (0xAu << 18);
    GPIOA_PUPDR = (GPIOA_PUPDR & ~(0xFu << 18)) | (0x1u << 20);
    GPIOA_AFRH = (GPIOA_AFRH & ~(0xFFu << 4)) | (0x77u << 4);
    /* 16x oversampling: BRR (mantissa:fraction) is simply f_pclk2 / baud, rounded. */
    USART1_BRR = (rp_board_pclk2_hz() + baud / 2u) / baud;
    USART1_CR2 = 0; /* 1 stop bit */
    USART1_CR3 = 0; /* no flow control, no DMA */
    rx_head = rx_tail = rx_dropped = 0;
    USART1_CR1 = USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE; /* 8 data bits, no parity */
    NVIC_ISER(USART1_IRQN / 32u) = 1u << (USART1_IRQN % 32u);
}

void USART1_IRQHandler(void) {
    uint32_t sr;
    /* Reading SR then DR clears RXNE and the error flags (ORE, NE, FE) together. */
    while ((sr = USART1_SR) & (USART_SR_RXNE | USART_SR_ORE)) {
        const uint8_t byte = (uint8_t)USART1_DR;
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
        while (!(USART1_SR & USART_SR_TXE)) {
        }
        USART1_DR = p[i];
    }
}

void rp_uart_flush(void) {
    /* Bounded: the transmitter may be disabled (rp_uart_init never ran) and then TC means nothing. */
    for (uint32_t i = 0; i < 1000000u && !(USART1_SR & USART_SR_TC); i++) {
    }
}
