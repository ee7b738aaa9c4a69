"""A register model of the STM32F4 parts the runtime drives, for the host build of firmware/runtime with
``-DRP_REG_MODEL`` (firmware/runtime/rp_stm32f4_regs.h sends every register access to ``read``/``write`` here).

It behaves as the silicon does where the runtime depends on it, and checks the reference manual's (RM0090)
ordering rules on every access. A broken rule is recorded as a ``Violation`` (register, old and new value, rule)
rather than raised: the accesses arrive through ctypes callbacks, which cannot raise into C.

Behaviour:
- ready bits follow their enables after ``READY_AFTER_POLLS`` reads of their register: HSERDY (HSEON), PLLRDY
  (PLLON, once its input is ready), ODRDY (ODEN), ODSWRDY (ODSWEN, once ODRDY), CFGR.SWS (SW, once that source is
  ready), FLASH_ACR.LATENCY (the latency written), IWDG_SR (cleared); ``never`` names the ones that do not come;
- a peripheral whose clock enable is off (RCC, or DEMCR.TRCENA for the DWT) ignores writes and reads 0;
- HSEBYP keeps its value when written while the HSE runs; PLLCFGR ignores writes while the PLL runs; the IWDG's
  PR/RLR ignore writes unless unlocked with 0x5555; DWT CYCCNT and TIM2 CNT advance on every read while counting.

Rules (each one silicon depends on; the text of each violation says which):
- access to a peripheral whose clock is off, or in the very bus access after its enable was written (the parts'
  errata: the enable takes effect two cycles later, so read the RCC register back first);
- HSEBYP changed while the HSE is on or still ready; RCC_PLLCFGR written while PLLON or PLLRDY; PLL turned on
  with its input outside 1-2 MHz, N outside 50-432, VCO outside 100-432 MHz or Q outside 2-15;
- the PLL or HSE switched off while it drives SYSCLK; VOS changed while the PLL is on;
- over-drive on an F40x/F41x, ODSWEN before ODRDY, either changed while SYSCLK is the PLL;
- at every moment (after each write and each status change), for the SYSCLK source selected by SW and for the one
  running (SWS): HCLK within the part's maximum (168 MHz F40x/F41x, 180 MHz F42x/F43x), above 168 MHz only with
  the over-drive switched in, above 144 MHz only at VOS scale 1, at most 30 MHz per flash wait state in force
  (2.7-3.6 V), APB1 within 42/45 MHz and APB2 within 84/90 MHz (F40x/F42x);
- USART_BRR written while the USART is enabled (UE); any address the model does not know.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

MHZ = 1_000_000
HSI_HZ = 16 * MHZ
READY_AFTER_POLLS = 3
HZ_PER_WAIT_STATE = 30 * MHZ  # 2.7-3.6 V supply
NO_OVERDRIVE_MAX_HZ = 168 * MHZ
VOS_SCALE1_ABOVE_HZ = 144 * MHZ
TICKS_PER_READ = 1000  # how far DWT CYCCNT / TIM2 CNT advance between two reads

# Registers: address -> (name, reset value). Addresses as in firmware/runtime/rp_stm32f4_regs.h.
RCC_CR, RCC_PLLCFGR, RCC_CFGR, RCC_CSR = 0x40023800, 0x40023804, 0x40023808, 0x40023874
RCC_AHB1ENR, RCC_APB1ENR, RCC_APB2ENR = 0x40023830, 0x40023840, 0x40023844
FLASH_ACR, PWR_CR, PWR_CSR = 0x40023C00, 0x40007000, 0x40007004
GPIOA, GPIOD = 0x40020000, 0x40020C00
USART1, USART2, USART3 = 0x40011000, 0x40004400, 0x40004800
TIM2, TIM2_CNT = 0x40000000, 0x40000024
IWDG_KR, IWDG_PR, IWDG_RLR, IWDG_SR = 0x40003000, 0x40003004, 0x40003008, 0x4000300C
DWT_CTRL, DWT_CYCCNT, DWT_LAR, DEMCR = 0xE0001000, 0xE0001004, 0xE0001FB0, 0xE000EDFC
NVIC_ISER0, SCB_VTOR, SCB_AIRCR, SCB_CPACR = 0xE000E100, 0xE000ED08, 0xE000ED0C, 0xE000ED88
NVIC_ISPR0 = 0xE000E200  # set-pending: the UART's interrupt is pended once at boot (rp_uart_calibrate_isr)

HSEON, HSERDY, HSEBYP, PLLON, PLLRDY = 1 << 16, 1 << 17, 1 << 18, 1 << 24, 1 << 25
RCC_CR_READ_ONLY = 1 << 1 | HSERDY | PLLRDY | 1 << 27  # HSIRDY, HSERDY, PLLRDY, PLLI2SRDY
PLLSRC_HSE = 1 << 22
SW_MASK, SWS_MASK = 3, 3 << 2
RMVF, RESET_FLAGS = 1 << 24, 0x7F << 25
LATENCY_MASK = 0xF
VOS_MASK, ODEN, ODSWEN, ODRDY, ODSWRDY = 3 << 14, 1 << 16, 1 << 17, 1 << 16, 1 << 17
TRCENA, CYCCNTENA, UE = 1 << 24, 1, 1 << 13
SW_SOURCES = {0: "HSI", 1: "HSE", 2: "PLL"}
AHB_DIVIDERS = {8: 2, 9: 4, 10: 8, 11: 16, 12: 64, 13: 128, 14: 256, 15: 512}  # HPRE; below 8: undivided
APB_DIVIDERS = {4: 2, 5: 4, 6: 8, 7: 16}  # PPRE1/PPRE2; below 4: undivided


def _registers() -> dict[int, tuple[str, int]]:
    regs = {RCC_CR: ("RCC_CR", 0x83), RCC_PLLCFGR: ("RCC_PLLCFGR", 0x24003010), RCC_CFGR: ("RCC_CFGR", 0),
            RCC_AHB1ENR: ("RCC_AHB1ENR", 0x00100000), RCC_APB1ENR: ("RCC_APB1ENR", 0),
            RCC_APB2ENR: ("RCC_APB2ENR", 0), RCC_CSR: ("RCC_CSR", 0x0E000000), FLASH_ACR: ("FLASH_ACR", 0),
            PWR_CR: ("PWR_CR", 0), PWR_CSR: ("PWR_CSR", 0), IWDG_KR: ("IWDG_KR", 0), IWDG_PR: ("IWDG_PR", 0),
            IWDG_RLR: ("IWDG_RLR", 0xFFF), IWDG_SR: ("IWDG_SR", 0), DWT_CTRL: ("DWT_CTRL", 0x40000000),
            DWT_CYCCNT: ("DWT_CYCCNT", 0), DWT_LAR: ("DWT_LAR", 0), DEMCR: ("DEMCR", 0),
            SCB_VTOR: ("SCB_VTOR", 0), SCB_AIRCR: ("SCB_AIRCR", 0xFA050000), SCB_CPACR: ("SCB_CPACR", 0)}
    regs.update({NVIC_ISER0 + 4 * n: (f"NVIC_ISER{n}", 0) for n in range(8)})
    regs.update({NVIC_ISPR0 + 4 * n: (f"NVIC_ISPR{n}", 0) for n in range(8)})
    # GPIOA resets with PA13/PA14/PA15 on their debug alternate function (SWD/JTAG).
    for port, base, moder, ospeedr, pupdr in (("A", GPIOA, 0xA8000000, 0x0C000000, 0x64000000), ("D", GPIOD, 0, 0, 0)):
        for off, reg, reset in ((0x00, "MODER", moder), (0x08, "OSPEEDR", ospeedr), (0x0C, "PUPDR", pupdr),
                                (0x20, "AFRL", 0), (0x24, "AFRH", 0)):
            regs[base + off] = (f"GPIO{port}_{reg}", reset)
    for n, base in ((1, USART1), (2, USART2), (3, USART3)):
        for off, reg, reset in ((0x00, "SR", 0xC0), (0x04, "DR", 0), (0x08, "BRR", 0), (0x0C, "CR1", 0),
                                (0x10, "CR2", 0), (0x14, "CR3", 0), (0x18, "GTPR", 0)):
            regs[base + off] = (f"USART{n}_{reg}", reset)
    for off, reg, reset in ((0x00, "CR1", 0), (0x14, "EGR", 0), (0x24, "CNT", 0), (0x28, "PSC", 0),
                            (0x2C, "ARR", 0xFFFFFFFF)):
        regs[TIM2 + off] = (f"TIM2_{reg}", reset)
    return regs


REGISTERS = _registers()


@dataclass(frozen=True)
class Block:
    """A peripheral's address range and the enable bit gating its clock (None: always clocked)."""
    name: str
    base: int
    size: int
    enable: tuple[int, int] | None = None  # (register, bit)


BLOCKS = (Block("RCC", 0x40023800, 0x400), Block("FLASH", FLASH_ACR, 0x400), Block("IWDG", IWDG_KR, 0x400),
          Block("PWR", PWR_CR, 0x400, (RCC_APB1ENR, 1 << 28)), Block("GPIOA", GPIOA, 0x400, (RCC_AHB1ENR, 1 << 0)),
          Block("GPIOD", GPIOD, 0x400, (RCC_AHB1ENR, 1 << 3)), Block("USART1", USART1, 0x400, (RCC_APB2ENR, 1 << 4)),
          Block("USART2", USART2, 0x400, (RCC_APB1ENR, 1 << 17)),
          Block("USART3", USART3, 0x400, (RCC_APB1ENR, 1 << 18)), Block("TIM2", TIM2, 0x400, (RCC_APB1ENR, 1 << 0)),
          Block("DWT", DWT_CTRL, 0x1000, (DEMCR, TRCENA)), Block("NVIC", NVIC_ISER0, 0x20),
          Block("NVIC_ISPR", NVIC_ISPR0, 0x20),
          Block("SCB", 0xE000ED00, 0x90), Block("CoreDebug", 0xE000EDF0, 0x10))
ENABLE_NAMES = {RCC_AHB1ENR: "RCC_AHB1ENR", RCC_APB1ENR: "RCC_APB1ENR", RCC_APB2ENR: "RCC_APB2ENR", DEMCR: "DEMCR"}
RCC_ENABLES = (RCC_AHB1ENR, RCC_APB1ENR, RCC_APB2ENR)


def block_of(addr: int) -> Block | None:
    return next((b for b in BLOCKS if b.base <= addr < b.base + b.size), None)


@dataclass(frozen=True)
class Part:
    """The limits of one STM32F4 line."""
    line: str
    max_hclk_hz: int
    max_pclk1_hz: int
    max_pclk2_hz: int
    has_overdrive: bool
    pwr_cr_reset: int  # VOS at scale 1


F40X = Part("F40x/F41x", 168 * MHZ, 42 * MHZ, 84 * MHZ, False, 1 << 14)
F42X = Part("F42x/F43x", 180 * MHZ, 45 * MHZ, 90 * MHZ, True, 3 << 14)


def part_for(mcu: str) -> Part:
    """``STM32F405`` ... ``STM32F417`` are F40x/F41x parts, ``STM32F427`` ... ``STM32F439`` F42x/F43x."""
    return F42X if mcu.upper()[:8] in ("STM32F42", "STM32F43") else F40X


@dataclass(frozen=True)
class Violation:
    rule: str
    register: str
    old: int
    new: int

    def __str__(self) -> str:
        return f"{self.register} {self.old:#010x} -> {self.new:#010x}: {self.rule}"


# What can fail to come up (RegisterModel's ``never``).
NEVER_OPTIONS = ("HSERDY", "PLLRDY", "ODRDY", "ODSWRDY", "LATENCY", "SWS")


@dataclass
class _Follower:
    """A status field heading for ``target()`` one step at a time: it takes ``READY_AFTER_POLLS`` reads."""
    name: str
    addr: int
    mask: int
    target: Callable[[], int]
    is_ready_bit: bool
    polls: int = 0


@dataclass
class RegisterModel:
    part: Part
    hse_hz: int = 8 * MHZ
    never: frozenset[str] = frozenset()  # NEVER_OPTIONS that stay down (ready bits) or never move (SWS, LATENCY)
    reset_flags: int = 0x0C000000  # RCC_CSR at boot: PIN and POR, a power-on
    violations: list[Violation] = field(default_factory=list)
    uart_tx: bytearray = field(default_factory=bytearray)

    def __post_init__(self) -> None:
        assert self.never <= set(NEVER_OPTIONS), self.never
        self.regs = {addr: reset for addr, (_, reset) in REGISTERS.items()}
        self.regs[PWR_CR] = self.part.pwr_cr_reset
        self.regs[RCC_CSR] = self.regs[RCC_CSR] & ~RESET_FLAGS | self.reset_flags
        self.latency_written = 0
        self.iwdg_unlocked = self.iwdg_started = False
        self.just_enabled: set[str] = set()
        r = self.regs
        self.followers = [
            _Follower("HSERDY", RCC_CR, HSERDY, lambda: HSERDY if r[RCC_CR] & HSEON else 0, True),
            _Follower("PLLRDY", RCC_CR, PLLRDY, lambda: PLLRDY if r[RCC_CR] & PLLON and self._pll_input_ready() else 0,
                      True),
            _Follower("ODRDY", PWR_CSR, ODRDY, lambda: ODRDY if r[PWR_CR] & ODEN else 0, True),
            _Follower("ODSWRDY", PWR_CSR, ODSWRDY, lambda: ODSWRDY if r[PWR_CR] & ODSWEN and r[PWR_CSR] & ODRDY else 0,
                      True),
            _Follower("SWS", RCC_CFGR, SWS_MASK, self._sws_target, False),
            _Follower("LATENCY", FLASH_ACR, LATENCY_MASK, lambda: self.latency_written, False),
            _Follower("IWDG_SR", IWDG_SR, 3, lambda: 0, False)]
        self.problems = self._tree_problems()

    # ---- the bus ------------------------------------------------------------------------------------------------

    def read(self, addr: int) -> int:
        if not self._reachable(addr, None):
            return 0
        for f in self.followers:
            if f.addr == addr:
                self._step(f)
        if addr == DWT_CYCCNT and self.regs[DWT_CTRL] & CYCCNTENA or addr == TIM2_CNT and self.regs[TIM2] & 1:
            self.regs[addr] = (self.regs[addr] + TICKS_PER_READ) & 0xFFFFFFFF  # counting: it moved since last time
        return self.regs[addr]

    def write(self, addr: int, value: int) -> None:
        value &= 0xFFFFFFFF
        if not self._reachable(addr, value):
            return
        old = self.regs[addr]
        handler = self._WRITES.get(addr)
        self.regs[addr] = handler(self, old, value) if handler else self._plain_write(addr, old, value)
        if addr in RCC_ENABLES:  # the RCC's enables take two cycles (the parts' errata); DEMCR is immediate
            self.just_enabled = {b.name for b in BLOCKS if b.enable and b.enable[0] == addr
                                 and value & b.enable[1] and not old & b.enable[1]}
        self._check_tree(REGISTERS[addr][0], old, value)

    def debugger_disconnect(self) -> None:
        """What pyOCD's resume_on_disconnect does: DEMCR = 0, which stops the DWT (CYCCNTENA off)."""
        self.regs[DEMCR] = 0
        self.regs[DWT_CTRL] &= ~CYCCNTENA

    def _reachable(self, addr: int, value: int | None) -> bool:
        """False (and a violation) for an unknown address or a peripheral whose clock is off."""
        kind = "read" if value is None else "write"
        block = block_of(addr)
        if addr not in REGISTERS:
            where = f"in {block.name}" if block else "outside every modelled peripheral"
            self._violate(f"{kind} of a register the model does not know ({where})", f"{addr:#010x}", 0, value or 0)
            return False
        name = REGISTERS[addr][0]
        if block.enable and not self.regs[block.enable[0]] & block.enable[1]:
            enable = f"{ENABLE_NAMES[block.enable[0]]} bit {block.enable[1].bit_length() - 1}"
            self._violate(f"{kind} while {block.name}'s clock ({enable}) is off: ignored, reads 0", name,
                          self.regs[addr], value or 0)
            return False
        if block.name in self.just_enabled:
            self._violate(f"{kind} of {block.name} in the access right after its clock enable (read the enable "
                          f"register back first)", name, self.regs[addr], value or 0)
        self.just_enabled = set()
        return True

    def _violate(self, rule: str, register: str, old: int, new: int) -> None:
        self.violations.append(Violation(rule, register, old, new))

    def _step(self, f: _Follower) -> None:
        current = self.regs[f.addr] & f.mask
        target = f.target()
        if f.name in self.never:
            target = 0 if f.is_ready_bit else current
        if current == target:
            f.polls = 0
            return
        f.polls += 1
        if f.polls >= READY_AFTER_POLLS:
            f.polls = 0
            old = self.regs[f.addr]
            self.regs[f.addr] = old & ~f.mask | target
            self._check_tree(f"{REGISTERS[f.addr][0]} ({f.name} now {target >> (f.mask & -f.mask).bit_length() - 1})",
                             old, self.regs[f.addr])

    # ---- register behaviour and the rules of each write ---------------------------------------------------------

    def _plain_write(self, addr: int, old: int, value: int) -> int:
        name = REGISTERS[addr][0]
        if name.endswith("_BRR") and self.regs[addr + 4] & UE:
            self._violate("USART_BRR written while the USART is enabled (UE)", name, old, value)
        if name.endswith("_DR") and name.startswith("USART"):
            self.uart_tx.append(value & 0xFF)
        if addr == IWDG_KR:
            self.iwdg_started |= value == 0xCCCC
            self.iwdg_unlocked = value == 0x5555
        if addr in (IWDG_PR, IWDG_RLR):
            if not self.iwdg_unlocked:
                self._violate("IWDG_PR/RLR written without the 0x5555 unlock key: ignored", name, old, value)
                return old
            self.regs[IWDG_SR] |= 1 if addr == IWDG_PR else 2  # PVU/RVU until the LSI domain has the value
        if name.startswith(("NVIC_ISER", "NVIC_ISPR")):  # writing 1 sets a bit, 0 changes nothing
            return old | value
        return value

    def _write_rcc_cr(self, old: int, value: int) -> int:
        new = value & ~RCC_CR_READ_ONLY | old & RCC_CR_READ_ONLY
        if (new ^ old) & HSEBYP and old & (HSEON | HSERDY):
            self._violate("HSEBYP changed while the HSE is on (HSEON or HSERDY): ignored", "RCC_CR", old, value)
            new = new & ~HSEBYP | old & HSEBYP
        running = SW_SOURCES.get((self.regs[RCC_CFGR] & SWS_MASK) >> 2)
        if old & PLLON and not new & PLLON and running == "PLL":
            self._violate("PLLON cleared while the PLL drives SYSCLK: ignored", "RCC_CR", old, value)
            new |= PLLON
        pll_uses_hse = self.regs[RCC_PLLCFGR] & PLLSRC_HSE and running == "PLL"
        if old & HSEON and not new & HSEON and (running == "HSE" or pll_uses_hse):
            self._violate("HSEON cleared while the HSE drives SYSCLK: ignored", "RCC_CR", old, value)
            new |= HSEON
        if new & PLLON and not old & PLLON:
            for problem in self._pll_config_problems():
                self._violate(f"PLL turned on with {problem}", "RCC_CR", old, value)
        return new

    def _write_rcc_pllcfgr(self, old: int, value: int) -> int:
        if self.regs[RCC_CR] & (PLLON | PLLRDY):
            self._violate("RCC_PLLCFGR written while the PLL is on (PLLON or PLLRDY): ignored", "RCC_PLLCFGR",
                          old, value)
            return old
        return value & 0x0F437FFF

    def _write_rcc_cfgr(self, old: int, value: int) -> int:
        if value & SW_MASK == 3:
            self._violate("SW = 3 is not a clock source", "RCC_CFGR", old, value)
        return value & ~SWS_MASK | old & SWS_MASK

    def _write_rcc_csr(self, old: int, value: int) -> int:
        new = value & ~(RESET_FLAGS | RMVF) | old & RESET_FLAGS
        return new & ~RESET_FLAGS if value & RMVF else new

    def _write_flash_acr(self, old: int, value: int) -> int:
        self.latency_written = value & LATENCY_MASK
        return value & 0x1F00 | old & LATENCY_MASK  # the new latency shows once the flash interface has taken it

    def _write_pwr_cr(self, old: int, value: int) -> int:
        changed = old ^ value
        if value & (ODEN | ODSWEN) and not self.part.has_overdrive:
            self._violate(f"over-drive (ODEN/ODSWEN) set on an {self.part.line}, which has none: ignored",
                          "PWR_CR", old, value)
            value &= ~(ODEN | ODSWEN)
        if value & ODSWEN and not old & ODSWEN and not self.regs[PWR_CSR] & ODRDY:
            self._violate("ODSWEN set before PWR_CSR.ODRDY", "PWR_CR", old, value)
        if changed & (ODEN | ODSWEN) and "PLL" in self._sysclk_sources():
            self._violate("over-drive changed while SYSCLK is the PLL (select the HSI or HSE first)", "PWR_CR",
                          old, value)
        if changed & VOS_MASK and self.regs[RCC_CR] & PLLON:
            self._violate("VOS changed while the PLL is on", "PWR_CR", old, value)
        return value

    _WRITES = {RCC_CR: _write_rcc_cr, RCC_PLLCFGR: _write_rcc_pllcfgr, RCC_CFGR: _write_rcc_cfgr,
               RCC_CSR: _write_rcc_csr, FLASH_ACR: _write_flash_acr, PWR_CR: _write_pwr_cr}

    # ---- the clock tree -----------------------------------------------------------------------------------------

    def _pll_input_ready(self) -> bool:
        return not self.regs[RCC_PLLCFGR] & PLLSRC_HSE or bool(self.regs[RCC_CR] & HSERDY)

    def _pll_fields(self) -> tuple[int, int, int, int, int]:
        """PLL input (Hz), M, N, P, Q from RCC_PLLCFGR."""
        cfg = self.regs[RCC_PLLCFGR]
        m, n, p, q = cfg & 0x3F, (cfg >> 6) & 0x1FF, 2 * (((cfg >> 16) & 3) + 1), (cfg >> 24) & 0xF
        return (self.hse_hz if cfg & PLLSRC_HSE else HSI_HZ), m, n, p, q

    def _pll_config_problems(self) -> list[str]:
        src, m, n, _, q = self._pll_fields()
        problems = [] if 2 <= m else [f"PLLM {m} below 2"]
        vco_in = src / m if m else 0
        if not 1 * MHZ <= vco_in <= 2 * MHZ:
            problems.append(f"its input at {vco_in / MHZ:g} MHz, outside 1-2 MHz")
        if not 50 <= n <= 432:
            problems.append(f"PLLN {n} outside 50-432")
        if not 100 * MHZ <= vco_in * n <= 432 * MHZ:
            problems.append(f"its VCO at {vco_in * n / MHZ:g} MHz, outside 100-432 MHz")
        if not 2 <= q <= 15:
            problems.append(f"PLLQ {q} outside 2-15")
        return problems

    def pll_hz(self) -> int:
        src, m, n, p, _ = self._pll_fields()
        return src * n // (m * p) if m else 0

    def source_hz(self, source: str) -> int:
        return {"HSI": HSI_HZ, "HSE": self.hse_hz, "PLL": self.pll_hz()}[source]

    def _source_ready(self, sw: int) -> bool:
        return {0: True, 1: bool(self.regs[RCC_CR] & HSERDY), 2: bool(self.regs[RCC_CR] & PLLRDY)}.get(sw, False)

    def _sws_target(self) -> int:
        sw = self.regs[RCC_CFGR] & SW_MASK
        return sw << 2 if self._source_ready(sw) else self.regs[RCC_CFGR] & SWS_MASK

    def _sysclk_sources(self) -> set[str]:
        """The source SW selects and the one SWS says runs: during a switch, either may be in force."""
        cfgr = self.regs[RCC_CFGR]
        return {SW_SOURCES.get(cfgr & SW_MASK, "HSI"), SW_SOURCES.get((cfgr & SWS_MASK) >> 2, "HSI")}

    def sysclk_hz(self) -> int:
        """The system clock now: the source SWS says runs."""
        return self.source_hz(SW_SOURCES.get((self.regs[RCC_CFGR] & SWS_MASK) >> 2, "HSI"))

    def bus_hz(self, sysclk: int | None = None) -> tuple[int, int, int]:
        """HCLK, PCLK1 and PCLK2 from ``sysclk`` (default: now) and RCC_CFGR's prescalers."""
        cfgr = self.regs[RCC_CFGR]
        hclk = (self.sysclk_hz() if sysclk is None else sysclk) // AHB_DIVIDERS.get((cfgr >> 4) & 0xF, 1)
        return hclk, hclk // APB_DIVIDERS.get((cfgr >> 10) & 7, 1), hclk // APB_DIVIDERS.get((cfgr >> 13) & 7, 1)

    def tim_apb1_hz(self) -> int:
        """TIM2's clock: PCLK1, doubled when APB1 is divided."""
        hclk, pclk1, _ = self.bus_hz()
        return pclk1 if pclk1 == hclk else 2 * pclk1

    def _tree_problems(self) -> set[str]:
        p, problems = self.part, set()
        latency, vos = self.regs[FLASH_ACR] & LATENCY_MASK, self.regs[PWR_CR] & VOS_MASK
        for source in sorted(self._sysclk_sources()):
            hclk, pclk1, pclk2 = self.bus_hz(self.source_hz(source))
            at = f"SYSCLK on the {source}: HCLK {hclk / MHZ:g} MHz"
            if hclk > p.max_hclk_hz:
                problems.add(f"{at} above the {p.line} maximum {p.max_hclk_hz / MHZ:g} MHz")
            if hclk > NO_OVERDRIVE_MAX_HZ and not self.regs[PWR_CSR] & ODSWRDY:
                problems.add(f"{at} above 168 MHz without the over-drive switched in (ODSWRDY)")
            if hclk > VOS_SCALE1_ABOVE_HZ and vos != p.pwr_cr_reset & VOS_MASK:
                problems.add(f"{at} above 144 MHz below VOS scale 1")
            if hclk > (latency + 1) * HZ_PER_WAIT_STATE:
                problems.add(f"{at} needs {(hclk - 1) // HZ_PER_WAIT_STATE} flash wait states, FLASH_ACR has "
                             f"{latency}")
            if pclk1 > p.max_pclk1_hz:
                problems.add(f"{at}: APB1 {pclk1 / MHZ:g} MHz above {p.max_pclk1_hz / MHZ:g} MHz")
            if pclk2 > p.max_pclk2_hz:
                problems.add(f"{at}: APB2 {pclk2 / MHZ:g} MHz above {p.max_pclk2_hz / MHZ:g} MHz")
        return problems

    def _check_tree(self, register: str, old: int, new: int) -> None:
        """Records each clock-tree problem that this change brought (one that was there before is not repeated)."""
        now = self._tree_problems()
        for problem in sorted(now - self.problems):
            self._violate(problem, register, old, new)
        self.problems = now
