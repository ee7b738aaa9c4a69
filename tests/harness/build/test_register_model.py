"""The runtime's own clock, UART, tick and watchdog C code (firmware/runtime, built for the host with
-DRP_REG_MODEL) run against a register model of the STM32F4 (register_model.py) that checks the reference manual's
ordering rules on every access: every board profile in boards.yaml, on the good path and on every failure path."""

import ctypes as C
import os
import shutil
from contextlib import contextmanager
from enum import IntEnum
from functools import cache
from pathlib import Path

import pytest

from harness import boards
from harness.build.cross import board_defines
from harness.build.host_runtime import build_runtime_model_library

from . import register_model as rm
from .register_model import MHZ, RegisterModel, part_for

pytestmark = pytest.mark.skipif(shutil.which(os.environ.get("CC", "cc")) is None,
                                reason="no host C compiler (cc): install one with `apt-get install gcc` or set CC")

POLL_LIMIT = 2000  # RP_CLOCK_POLL_LIMIT: the timeout paths end after a few thousand model reads
BOARDS = sorted(name for name, b in boards.load_boards().items() if b.spec.chip)  # the host board has no registers
READ_FN = C.CFUNCTYPE(C.c_uint32, C.c_uint32)
WRITE_FN = C.CFUNCTYPE(None, C.c_uint32, C.c_uint32)


class ClockStatus(IntEnum):  # rp_clock_status, firmware/runtime/rp_runtime.h
    PLL = 1
    HSE_TIMEOUT = 2
    PLL_TIMEOUT = 3
    FLASH_TIMEOUT = 5
    SWITCH_TIMEOUT = 6
    PLL_NO_OVERDRIVE = 7


# Each path: what never comes up in the model (register_model.NEVER_OPTIONS).
PATHS = {"all-good": frozenset(), "hse-never-ready": frozenset({"HSERDY"}),
         "pll-never-locks": frozenset({"PLLRDY"}), "overdrive-never-ready": frozenset({"ODRDY"}),
         "overdrive-switch-never-ready": frozenset({"ODSWRDY"}),
         "flash-latency-never-reads-back": frozenset({"LATENCY"}), "sws-never-confirms": frozenset({"SWS"})}
TIMEOUTS = {"hse-never-ready": ClockStatus.HSE_TIMEOUT, "pll-never-locks": ClockStatus.PLL_TIMEOUT,
            "flash-latency-never-reads-back": ClockStatus.FLASH_TIMEOUT,
            "sws-never-confirms": ClockStatus.SWITCH_TIMEOUT}
# RP_UART_USART -> registers, APB bus, GPIO port, TX pin (RX is the next one), NVIC line (rp_stm32f4_regs.h).
UARTS = {1: (rm.USART1, 2, rm.GPIOA, 9, 37), 2: (rm.USART2, 1, rm.GPIOA, 2, 38), 3: (rm.USART3, 1, rm.GPIOD, 8, 39)}
USART_CR1_ON = 1 << 13 | 1 << 3 | 1 << 2 | 1 << 5  # UE, TE, RE, RXNEIE
ART = 7 << 8  # FLASH_ACR PRFTEN, ICEN, DCEN
LSI_HZ = 32_000


def defines(board: str) -> dict[str, int]:
    """The board's numeric -D values (``RP_UART_BAUD=115200u`` -> 115200); absent ones are 0."""
    pairs = (d.split("=", 1) for d in board_defines(board) if "=" in d)
    return {k: int(v.rstrip("u")) for k, v in pairs if v.rstrip("u").isdigit()}


@cache
def runtime_library(board: str) -> Path:
    return build_runtime_model_library([*board_defines(board), f"RP_CLOCK_POLL_LIMIT={POLL_LIMIT}"]).path


def runtime(board: str, where: Path) -> C.CDLL:
    """A fresh copy of the board's runtime: its static variables as at power-on (loading the same file twice would
    give the first copy, with whatever an earlier test left in it)."""
    copy = Path(shutil.copy(runtime_library(board), where / f"{board}.so"))
    lib = C.CDLL(str(copy))
    for name in ("rp_board_clock_hz", "rp_board_reset_flags", "rp_board_pclk1_hz", "rp_board_pclk2_hz",
                 "rp_ticks", "rp_ticks_hz", "rp_watchdog_ms"):
        getattr(lib, name).restype = C.c_uint32
    lib.rp_reg_model_attach.argtypes = [READ_FN, WRITE_FN]
    lib.rp_uart_write.argtypes = [C.c_char_p, C.c_int32]
    return lib


@contextmanager
def attached(lib: C.CDLL, model: RegisterModel):
    """Routes the library's register accesses to ``model``; an error inside the model becomes a violation (a ctypes
    callback cannot raise into C)."""
    def guard(fn):
        def call(*args):
            try:
                return fn(*args)
            except Exception as exc:  # reported through the violations
                model.violations.append(rm.Violation(f"model error: {exc!r}", f"{args[0]:#010x}", 0, 0))
                return 0
        return call

    callbacks = READ_FN(guard(model.read)), WRITE_FN(guard(model.write))  # kept alive while attached
    lib.rp_reg_model_attach(*callbacks)
    try:
        yield lib
    finally:
        lib.rp_reg_model_attach(READ_FN(), WRITE_FN())


def model_for(board: str, never: frozenset[str] = frozenset()) -> RegisterModel:
    spec = boards.board(board)
    part = part_for(spec.mcu)
    assert part.max_hclk_hz == spec.max_clock_hz, f"{spec.mcu}: the model and harness.boards disagree on its limit"
    return RegisterModel(part, spec.hse.hz, never)


def expected_clock(board: str, path: str) -> tuple[ClockStatus, int]:
    target = boards.board(board).clock_hz
    if path in TIMEOUTS:
        return TIMEOUTS[path], 16 * MHZ
    if path.startswith("overdrive") and target > 168 * MHZ:  # the PLL works: 168 MHz, never the HSI
        return ClockStatus.PLL_NO_OVERDRIVE, 168 * MHZ
    return ClockStatus.PLL, target


def field(value: int, index: int, width: int) -> int:
    return (value >> (index * width)) & ((1 << width) - 1)


def check_clock(board: str, model: RegisterModel, lib: C.CDLL, path: str) -> None:
    status, hz = expected_clock(board, path)
    assert (ClockStatus(lib.rp_board_clock_status()), lib.rp_board_clock_hz()) == (status, hz)
    assert model.sysclk_hz() == hz
    hclk, pclk1, pclk2 = model.bus_hz()
    assert (lib.rp_board_pclk1_hz(), lib.rp_board_pclk2_hz()) == (pclk1, pclk2)
    cr, pwr_cr = model.regs[rm.RCC_CR], model.regs[rm.PWR_CR]
    assert bool(cr & rm.HSEBYP) == (boards.board(board).hse.mode == "bypass")  # the HSE in the board's mode
    if status in (ClockStatus.PLL, ClockStatus.PLL_NO_OVERDRIVE):
        assert (hclk, pclk1, pclk2) == (hz, hz // 4, hz // 2)
        assert model.regs[rm.FLASH_ACR] & (rm.LATENCY_MASK | ART) == (hz - 1) // (30 * MHZ) | ART
        assert bool(model.regs[rm.PWR_CSR] & rm.ODSWRDY) == (hz > 168 * MHZ)
    else:
        assert (hclk, pclk1, pclk2) == (hz, hz, hz) and not cr & (rm.PLLON | rm.HSEON)
    if status == ClockStatus.PLL_NO_OVERDRIVE or boards.board(board).clock_hz <= 168 * MHZ:
        assert not pwr_cr & (rm.ODEN | rm.ODSWEN)  # never asked for, or switched off again after the timeout
    assert lib.rp_board_reset_flags() == model.reset_flags >> 25 and not model.regs[rm.RCC_CSR] & rm.RESET_FLAGS


def check_uart(board: str, model: RegisterModel, lib: C.CDLL) -> None:
    d = defines(board)
    base, bus, port, tx, irq = UARTS[d["RP_UART_USART"]]
    pclk, brr, baud = model.bus_hz()[bus], model.regs[base + 0x08], d["RP_UART_BAUD"]
    assert brr and abs(pclk / brr - baud) / baud <= 0.02, f"BRR {brr} at {pclk} Hz for {baud} baud"
    assert model.regs[base + 0x0C] == USART_CR1_ON
    for pin in (tx, tx + 1):
        assert field(model.regs[port], pin, 2) == 2, f"pin {pin} not in alternate-function mode"
        assert field(model.regs[port + (0x20 if pin < 8 else 0x24)], pin % 8, 4) == 7, f"pin {pin} not AF7"
    assert field(model.regs[rm.GPIOA], 13, 2) == field(model.regs[rm.GPIOA], 14, 2) == 2  # SWD pins untouched
    assert model.regs[rm.NVIC_ISER0 + 4 * (irq // 32)] == 1 << irq % 32
    lib.rp_uart_write(b"hi", 2)
    assert model.uart_tx == b"hi"


def check_ticks(board: str, model: RegisterModel, lib: C.CDLL) -> None:
    if defines(board).get("RP_TICKS_DWT"):
        assert model.regs[rm.DEMCR] & rm.TRCENA and model.regs[rm.DWT_CTRL] & rm.CYCCNTENA
        assert lib.rp_ticks_hz() == model.sysclk_hz()
    else:
        assert model.regs[rm.TIM2] & 1 and model.regs[rm.TIM2 + 0x28] == 0 and model.regs[rm.TIM2 + 0x2C] == 2**32 - 1
        assert lib.rp_ticks_hz() == model.tim_apb1_hz()
    first = lib.rp_ticks()
    assert lib.rp_ticks() - first == rm.TICKS_PER_READ


def check_watchdog(board: str, model: RegisterModel, lib: C.CDLL) -> None:
    ms = defines(board).get("RP_WATCHDOG_MS", 0)
    assert lib.rp_watchdog_ms() == ms and model.iwdg_started == bool(ms)
    if ms:
        tick_ms = 1000 * (4 << model.regs[rm.IWDG_PR]) / LSI_HZ
        assert abs((model.regs[rm.IWDG_RLR] + 1) * tick_ms - ms) <= tick_ms
        assert model.regs[rm.IWDG_KR] == 0xAAAA and not model.regs[rm.IWDG_SR]


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize("board", BOARDS)
def test_board_init_keeps_every_rule(board, path, tmp_path):
    model, lib = model_for(board, PATHS[path]), runtime(board, tmp_path)
    with attached(lib, model):
        lib.rp_board_init()
        assert not model.violations, "\n".join(map(str, model.violations))
        check_clock(board, model, lib, path)
        check_uart(board, model, lib)
        check_ticks(board, model, lib)
        check_watchdog(board, model, lib)
    assert not model.violations, "\n".join(map(str, model.violations))


@pytest.mark.parametrize("board", BOARDS)
def test_board_init_restarts_an_hse_left_running_in_the_other_mode(board, tmp_path):
    """A bootloader jumped here with the HSE on in the other mode: off, stopped, the board's mode, on again."""
    other_mode = 0 if boards.board(board).hse.mode == "bypass" else rm.HSEBYP
    model, lib = model_for(board), runtime(board, tmp_path)
    model.regs[rm.RCC_CR] |= rm.HSEON | rm.HSERDY | other_mode
    with attached(lib, model):
        lib.rp_board_init()
        check_clock(board, model, lib, "all-good")
    assert not model.violations, "\n".join(map(str, model.violations))


@pytest.mark.parametrize("board", BOARDS)
def test_uart_set_up_at_the_reset_clock_then_again_at_another_baud(board, tmp_path):
    """fault.c sets the UART up on the 16 MHz HSI when a fault comes before rp_board_init; set up again on a running
    UART, it must be disabled before BRR changes."""
    model, lib = model_for(board), runtime(board, tmp_path)
    with attached(lib, model):
        lib.rp_uart_init(defines(board)["RP_UART_BAUD"])
        check_uart(board, model, lib)
        model.uart_tx.clear()
        lib.rp_board_init()
        check_uart(board, model, lib)
        base, bus = UARTS[defines(board)["RP_UART_USART"]][:2]
        lib.rp_uart_init(9600)
        assert abs(model.bus_hz()[bus] / model.regs[base + 0x08] - 9600) / 9600 <= 0.02
    assert not model.violations, "\n".join(map(str, model.violations))


@pytest.mark.parametrize("board", [b for b in BOARDS if defines(b).get("RP_TICKS_DWT")])
def test_ticks_arm_restarts_the_dwt_after_a_debugger_cleared_demcr(board, tmp_path):
    model, lib = model_for(board), runtime(board, tmp_path)
    with attached(lib, model):
        lib.rp_board_init()
        model.debugger_disconnect()
        lib.rp_ticks_arm()
        assert model.regs[rm.DEMCR] & rm.TRCENA and model.regs[rm.DWT_CTRL] & rm.CYCCNTENA
        first = lib.rp_ticks()
        assert lib.rp_ticks() - first == rm.TICKS_PER_READ
    assert not model.violations, "\n".join(map(str, model.violations))


# ---- the model can fail: wrong sequences are reported ----------------------------------------------------------

def lock_pll(model: RegisterModel, pllcfgr: int) -> None:
    """HSE on, PLL configured and locked, by the book."""
    model.write(rm.RCC_CR, model.read(rm.RCC_CR) | rm.HSEON)
    while not model.read(rm.RCC_CR) & rm.HSERDY:
        pass
    model.write(rm.RCC_PLLCFGR, pllcfgr)
    model.write(rm.RCC_CR, model.read(rm.RCC_CR) | rm.PLLON)
    while not model.read(rm.RCC_CR) & rm.PLLRDY:
        pass


PLL_168 = 4 | 168 << 6 | 1 << 22 | 7 << 24  # 8 MHz HSE / 4 x 168 / 2
PLL_180 = 4 | 180 << 6 | 1 << 22 | 8 << 24


def _pwr_before_its_clock(m):
    m.write(rm.PWR_CR, m.part.pwr_cr_reset | rm.ODEN)


def _pllcfgr_while_on(m):
    lock_pll(m, PLL_168)
    m.write(rm.RCC_PLLCFGR, PLL_180)
    assert m.regs[rm.RCC_PLLCFGR] == PLL_168


def _hsebyp_while_hse_on(m):
    m.write(rm.RCC_CR, m.read(rm.RCC_CR) | rm.HSEON)
    m.write(rm.RCC_CR, m.read(rm.RCC_CR) | rm.HSEBYP)
    assert not m.regs[rm.RCC_CR] & rm.HSEBYP


def _switch_before_wait_states(m):
    lock_pll(m, PLL_168)
    m.write(rm.RCC_CFGR, 5 << 10 | 4 << 13 | 2)


def _apb_too_fast(m):
    lock_pll(m, PLL_168)
    m.write(rm.FLASH_ACR, 5)
    while m.read(rm.FLASH_ACR) & rm.LATENCY_MASK != 5:
        pass
    m.write(rm.RCC_CFGR, 2)


def _180_without_overdrive(m):
    m.write(rm.RCC_APB1ENR, 1 << 28)
    lock_pll(m, PLL_180)
    m.write(rm.FLASH_ACR, 5)
    while m.read(rm.FLASH_ACR) & rm.LATENCY_MASK != 5:
        pass
    m.write(rm.RCC_CFGR, 5 << 10 | 4 << 13 | 2)


def _vco_out_of_range(m):
    lock_pll(m, 4 | 300 << 6 | 1 << 22 | 7 << 24)


def _peripheral_right_after_its_enable(m):
    m.write(rm.RCC_APB1ENR, 1 << 18)
    m.write(rm.USART3 + 0x0C, 0)


def _previous_runtimes_hse_restart(m):
    """What the runtime did before issue 13: HSEON and HSEBYP cleared in one write, with the HSE running (here in
    bypass mode, as a bootloader or a previous start-up may leave it)."""
    m.write(rm.RCC_CR, rm.HSEBYP)
    m.write(rm.RCC_CR, rm.HSEBYP | rm.HSEON)
    while not m.read(rm.RCC_CR) & rm.HSERDY:
        pass
    m.write(rm.RCC_CR, m.read(rm.RCC_CR) & ~(rm.HSEON | rm.HSEBYP))


def _previous_runtimes_uart_init(m):
    """The runtime before issue 13: USART_CR1 = 0 first, before the USART's clock was enabled."""
    m.write(rm.USART3 + 0x0C, 0)
    m.write(rm.RCC_APB1ENR, 1 << 18)


BAD_SEQUENCES = [  # (wrong sequence, part, a phrase of the rule it breaks)
    (_previous_runtimes_hse_restart, rm.F42X, "HSEBYP changed while the HSE is on"),
    (_previous_runtimes_uart_init, rm.F42X, "write while USART3's clock (RCC_APB1ENR bit 18) is off"),
    (_pwr_before_its_clock, rm.F42X, "PWR's clock (RCC_APB1ENR bit 28) is off"),
    (_pllcfgr_while_on, rm.F40X, "RCC_PLLCFGR written while the PLL is on"),
    (_hsebyp_while_hse_on, rm.F40X, "HSEBYP changed while the HSE is on"),
    (_switch_before_wait_states, rm.F40X, "needs 5 flash wait states, FLASH_ACR has 0"),
    (_apb_too_fast, rm.F40X, "APB1 168 MHz above 42 MHz"),
    (_180_without_overdrive, rm.F42X, "above 168 MHz without the over-drive"),
    (_vco_out_of_range, rm.F40X, "VCO at 600 MHz, outside 100-432 MHz"),
    (_peripheral_right_after_its_enable, rm.F40X, "right after its clock enable"),
]


@pytest.mark.parametrize(("sequence", "part", "rule"), BAD_SEQUENCES, ids=[s[0].__name__[1:] for s in BAD_SEQUENCES])
def test_the_model_reports_a_wrong_sequence(sequence, part, rule):
    model = RegisterModel(part)
    sequence(model)
    assert any(rule in str(v) for v in model.violations), "\n".join(map(str, model.violations)) or "no violation"


def test_the_model_reports_the_180_mhz_firmware_on_an_f40x(tmp_path):
    """The real runtime, built for a 180 MHz F429 board, run on an F407's model: it asks for an over-drive the part
    lacks, which the model reports (and ignores, so the firmware settles at 168 MHz)."""
    board = next(b for b in BOARDS if boards.board(b).clock_hz > 168 * MHZ)
    model, lib = RegisterModel(rm.F40X), runtime(board, tmp_path)
    with attached(lib, model):
        lib.rp_board_init()
        assert ClockStatus(lib.rp_board_clock_status()) == ClockStatus.PLL_NO_OVERDRIVE
    assert any("over-drive (ODEN/ODSWEN) set on an F40x/F41x" in str(v) for v in model.violations)
