/* The host UART (RP_UART_USART: USART1 on PA9/PA10, USART2 on PA2/PA3 or USART3 on PD8/PD9, see
 * rp_stm32f4_regs.h): interrupt-driven receive into a ring, polled transmit. The TXE interrupt is never enabled:
 * QEMU keeps TXE set, so an enabled TXEIE would fire without end (docs/notes/qemu.md, pitfall 8). QEMU ignores the
 * RCC and GPIO writes. */
#include "rp_runtime.h"
#include "rp_stm32f4_regs.h"

_Static_assert(RP_UART_RX_SIZE >= 2 && (RP_UART_RX_SIZE & (RP_UART_RX_SIZE - 1)) == 0,
               "RP_UART_RX_SIZE must be a power of two");

/* Single producer (the ISR advances head) and single consumer (rp_uart_read advances tail); free-running
 * counters, so head - tail is the fill level even across wrap-around. */
static uint8_t rx_ring[RP_UART_RX_SIZE] RP_CCMRAM; /* CPU-only: core-coupled RAM where the board has it */
/* One struct: the counters share a base address, so each function loads one literal, not several. isr_ticks: the
 * handler's ticks, which a layer it interrupts takes off its count: those it measures itself plus `overhead`, the
 * ticks of its entry and exit outside its own measurement (rp_uart_calibrate_isr). */
static volatile struct {
    uint32_t head, tail, dropped, errors, isr_ticks, overhead;
} rx;

#define BARRIER() __asm volatile("" ::: "memory")

#define UART_IRQ_HANDLER(n) UART_IRQ_HANDLER_(n)
#define UART_IRQ_HANDLER_(n) USART##n##_IRQHandler
#define RP_UART_IRQHandler UART_IRQ_HANDLER(RP_UART_USART)

static uint32_t uart_kernel_hz(void) { return RP_UART_APB == 2 ? rp_board_pclk2_hz() : rp_board_pclk1_hz(); }

/* A pin pair to alternate function 7 (every USART here), fast, pull-up on RX so an unplugged line reads idle. */
static void set_pin(uint32_t pin, uint32_t pull) {
    const uint32_t two = 2u * pin, four = 4u * (pin & 7u);
    RP_MODIFY(GPIO_MODER(RP_UART_GPIO), 3u << two, 2u << two);
    RP_MODIFY(GPIO_OSPEEDR(RP_UART_GPIO), 3u << two, 2u << two);
    RP_MODIFY(GPIO_PUPDR(RP_UART_GPIO), 3u << two, pull << two);
    RP_MODIFY(GPIO_AFR(RP_UART_GPIO, pin), 0xFu << four, 7u << four);
}

/* The bus clocks first: a peripheral whose RCC enable is off ignores writes (RM0090 6.3.10). */
static void uart_enable_clock_and_pins(void) {
    RP_SET(RCC_AHB1ENR, RP_UART_GPIO_EN);
    RP_SET(RP_UART_ENR, RP_UART_EN);
    (void)RP_READ(RP_UART_ENR); /* a read-back gives the enable two cycles before the first access (errata) */
    set_pin(RP_UART_TX_PIN, 0u);
    set_pin(RP_UART_RX_PIN, 1u);
}

void rp_uart_init(uint32_t baud) {
    uart_enable_clock_and_pins();
    RP_WRITE(USART_CR1(RP_UART_BASE), 0); /* quiet while reconfiguring */
    /* 16x oversampling: BRR (mantissa:fraction) is simply f_pclk / baud, rounded; harness/build/cross.py refuses
     * a baud whose divisor is too small or too far off at the board's clock. */
    RP_WRITE(USART_BRR(RP_UART_BASE), (uart_kernel_hz() + baud / 2u) / baud);
    RP_WRITE(USART_CR2(RP_UART_BASE), 0); /* 1 stop bit */
    RP_WRITE(USART_CR3(RP_UART_BASE), 0); /* no flow control, no DMA */
    rx.head = rx.tail = rx.dropped = rx.errors = 0;
    RP_WRITE(USART_CR1(RP_UART_BASE), USART_CR1_UE | USART_CR1_TE | USART_CR1_RE | USART_CR1_RXNEIE); /* 8N1 */
    RP_WRITE(NVIC_ISER(RP_UART_IRQN / 32u), 1u << (RP_UART_IRQN % 32u));
}

int rp_uart_enabled(void) { return (RP_READ(USART_CR1(RP_UART_BASE)) & USART_CR1_UE) != 0; }

void RP_UART_IRQHandler(void) {
    const uint32_t t0 = rp_ticks();
    uint32_t sr;
    /* Reading SR then DR clears RXNE and the error flags (ORE, NF, FE, PE) together. */
    while ((sr = RP_READ(USART_SR(RP_UART_BASE))) & (USART_SR_RXNE | USART_SR_ORE)) {
        const uint8_t byte = (uint8_t)RP_READ(USART_DR(RP_UART_BASE));
        if (sr & USART_SR_ORE) rx.dropped = rx.dropped + 1u; /* the shift register lost at least one byte */
        if (sr & (USART_SR_PE | USART_SR_FE | USART_SR_NF)) rx.errors = rx.errors + 1u; /* line noise */
        const uint32_t head = rx.head;
        if (head - rx.tail < RP_UART_RX_SIZE) {
            rx_ring[head & (RP_UART_RX_SIZE - 1u)] = byte;
            BARRIER(); /* the byte is stored before the reader can see the new head */
            rx.head = head + 1u;
        } else {
            rx.dropped = rx.dropped + 1u;
        }
    }
    rx.isr_ticks = rx.isr_ticks + (rp_ticks() - t0) + rx.overhead;
}

/* The ticks from before a write to the NVIC's set-pending register to after the barrier that lets a pended
 * interrupt run: bits 0 pends nothing. Not inlined, so both calls run the same instructions. */
static __attribute__((noinline)) uint32_t timed_pend(uint32_t bits) {
    const uint32_t t0 = rp_ticks();
    RP_WRITE(NVIC_ISPR(RP_UART_IRQN / 32u), bits);
    RP_SYNC();
    return rp_ticks() - t0;
}

void rp_uart_calibrate_isr(void) {
    rx.overhead = 0;
    const uint32_t plain = timed_pend(0), before = rx.isr_ticks;
    const uint32_t pended = timed_pend(1u << (RP_UART_IRQN % 32u));
    rx.overhead = pended - plain - (rx.isr_ticks - before);
}

uint32_t rp_ticks_and_isr(uint32_t *isr) {
    RP_IRQ_MASK();
    const uint32_t now = rp_ticks();
    *isr = rx.isr_ticks;
    RP_IRQ_UNMASK();
    return now;
}

int32_t rp_uart_read(uint8_t *dst, int32_t max) {
    const uint32_t head = rx.head;
    BARRIER(); /* no ring read may move above the head read */
    uint32_t tail = rx.tail;
    int32_t n = 0;
    while (n < max && tail != head) dst[n++] = rx_ring[tail++ & (RP_UART_RX_SIZE - 1u)];
    BARRIER(); /* copied before the slots go back to the ISR */
    rx.tail = tail;
    return n;
}

int32_t rp_uart_rx_available(void) { return (int32_t)(rx.head - rx.tail); }

void rp_uart_wait(void) {
#if RP_WATCHDOG_MS == 0
    /* Interrupts masked across the check and the sleep: a byte landing between them leaves its interrupt pending,
     * and a pending interrupt ends WFI even while PRIMASK masks it (ARMv7-M ARM B1.5.19); unmasking then runs the
     * ISR. Without the mask that byte's ISR could run just before WFI and the core would sleep past it. */
    __asm volatile("cpsid i" ::: "memory");
    if (rx.head == rx.tail) __asm volatile("wfi");
    __asm volatile("cpsie i" ::: "memory");
#endif
}

void rp_uart_rx_hold(int hold) {
    if (!rp_uart_enabled()) return; /* the self-test firmware never starts the UART */
    if (hold) RP_CLEAR(USART_CR1(RP_UART_BASE), USART_CR1_RXNEIE);
    else RP_SET(USART_CR1(RP_UART_BASE), USART_CR1_RXNEIE);
}

uint32_t rp_uart_rx_dropped(void) { return rx.dropped; }

uint32_t rp_uart_rx_errors(void) { return rx.errors; }

void rp_uart_write(const void *data, int32_t n) {
    const uint8_t *p = data;
    for (int32_t i = 0; i < n; i++) {
        while (!(RP_READ(USART_SR(RP_UART_BASE)) & USART_SR_TXE)) {
        }
        RP_WRITE(USART_DR(RP_UART_BASE), p[i]);
    }
}

void rp_uart_flush(void) {
    /* Bounded: the transmitter may be disabled (rp_uart_init never ran) and then TC means nothing. */
    for (uint32_t i = 0; i < 1000000u && !(RP_READ(USART_SR(RP_UART_BASE)) & USART_SR_TC); i++) {
    }
}
