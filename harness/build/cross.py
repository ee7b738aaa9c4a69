"""Cross-compiling for the Cortex-M4 with arm-none-eabi-gcc (the flags the QEMU notes measured).

``build_elf`` renders the board's linker script (``harness/build/linker.py``) next to the output, links with a
GNU build-id and writes a map file beside the ELF.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterable
from pathlib import Path

from harness import boards
from harness.bridges import BRIDGES
from harness.build import linker
from harness.build.compile import compile_and_link
from harness.build.host import FIRMWARE, kernel_sources
from harness.errors import BoardsError, BuildError, DependencyError, UsageError

CC = "arm-none-eabi-gcc"
CPU_FLAGS = ("-mcpu=cortex-m4", "-mthumb", "-mfpu=fpv4-sp-d16", "-mfloat-abi=hard")
CFLAGS = ("-O2", "-std=c11", "-Wall", "-Wextra", "-Werror", "-ffreestanding", "-ffunction-sections",
          "-fdata-sections", "-fno-tree-loop-distribute-patterns")
SPECS = ("--specs=nano.specs", "--specs=nosys.specs")  # newlib-nano: its headers to compile, its libraries to link
LDFLAGS = ("-nostartfiles", "-Wl,--gc-sections", "-Wl,--build-id=sha1")
INSTALL = "apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"
DEFAULT_BOARD = "qemu-stm32f405"


def require_toolchain() -> str:
    if shutil.which(CC) is None:
        raise DependencyError(f"{CC} not found; install the toolchain with `{INSTALL}`")
    return CC


def compiler_version() -> str:
    out = subprocess.run([require_toolchain(), "--version"], capture_output=True, text=True, check=False)
    return (out.stdout.splitlines() or ["unknown"])[0]


def board_profile(board: str) -> dict:
    """``board``'s entry in boards.yaml (UsageError naming the known boards if there is none)."""
    return linker.board_profile(board)


def runtime_sources() -> list[Path]:
    return sorted((FIRMWARE / "runtime").glob("*.c"))


def _has(defines: list[str], name: str) -> bool:
    return any(d.split("=", 1)[0] == name for d in defines)


# The USARTs the runtime drives (firmware/runtime/rp_stm32f4_regs.h) and the APB bus each sits on; on the PLL the
# runtime runs APB1 at HCLK/4 and APB2 at HCLK/2 (firmware/runtime/clock.c).
UART_APB = {"USART1": 2, "USART2": 1, "USART3": 1}
APB_DIVIDER = {1: 4, 2: 2}
BAUD_TOLERANCE = 0.02  # a UART receiver tolerates ~3-4 % in all; 2 % leaves the host's side its share
PAIR_TOLERANCE = 0.03  # both ends' real rates known (a bridge): their difference, under RM0090's 3.41 %
HSI_HZ = 16_000_000  # the clock the firmware sets the UART up at first, and stays on when the HSE or PLL fails


def uart_name(spec: boards.Board) -> str:
    name = str(spec.uart["name"]).upper()
    if name not in UART_APB:
        raise BoardsError(f"board {spec.name}: uart.name {name} is not one the firmware runtime drives "
                          f"(USART1 on PA9/PA10, USART2 on PA2/PA3 or USART3 on PD8/PD9)")
    return name


def check_baud(spec: boards.Board, baud: int) -> None:
    """Refuse a baud rate the UART cannot make at either clock it runs at (the PLL's, and the 16 MHz HSI the
    firmware starts on and falls back to, where it must still answer HELLO to say so): BRR = PCLK / baud (16x
    oversampling) below 16 (a divisor under 1) or a rate more than 2 % off. With a known bridge (``vcp``,
    harness/bridges.py) what counts is the difference between the two ends' real rates: at most 3 %, inside RM0090's
    receiver tolerance for 16x oversampling (3.41 % with a fractional divider), and the bridge must make the rate."""
    board, uart = spec.name, uart_name(spec)
    bridge = BRIDGES[spec.vcp] if spec.vcp else None
    if bridge and baud > bridge.max_baud:
        raise UsageError(f"baud {baud:,} is too fast for {board}'s {spec.vcp} bridge: at most {bridge.max_baud:,} baud")
    for pclk, where in ((spec.clock_hz // APB_DIVIDER[UART_APB[uart]], f"PCLK{UART_APB[uart]}"),
                        (HSI_HZ, "the HSI fallback")):
        brr = round(pclk / baud) if baud > 0 else 0
        if brr < 16:
            raise UsageError(f"baud {baud:,} is too fast for {board}'s {uart} ({where} {pclk / 1e6:g} MHz): at most "
                             f"{pclk // 16:,} baud")
        actual = pclk / brr
        if bridge:
            mismatch = abs(actual - bridge.actual(baud)) / baud
            if mismatch > PAIR_TOLERANCE:
                raise UsageError(f"baud {baud:,} on {board}: its {uart} ({where} {pclk / 1e6:g} MHz) would run at "
                                 f"{actual:,.0f} baud and its {spec.vcp} bridge at {bridge.actual(baud):,.0f}, "
                                 f"{100 * mismatch:.1f} % apart (at most {100 * PAIR_TOLERANCE:g} %); choose another "
                                 "rate")
        elif abs(actual - baud) / baud > BAUD_TOLERANCE:
            raise UsageError(f"baud {baud:,} on {board}'s {uart} ({where} {pclk / 1e6:g} MHz) would run at "
                             f"{actual:,.0f} baud, {100 * abs(actual - baud) / baud:.1f} % off (at most "
                             f"{100 * BAUD_TOLERANCE:g} %); choose another rate")


def board_defines(board: str, semihosting: bool | None = None) -> list[str]:
    """What the runtime needs from the board profile: target clock and the part's limit, the HSE's mode and
    frequency, cycle counter, the UART wired to the host (``uart.name``, default USART1) and its ``baud`` (checked
    against the clock), the watchdog, and (QEMU by default) semihosting. Semihosting is off elsewhere because its
    BKPT HardFaults a board with no debugger attached."""
    spec = boards.board(board)  # checked, its defaults applied (harness/boards.py)
    uart, baud = uart_name(spec), spec.baud
    check_baud(spec, baud)
    out = [f"RP_SYSCLK_HZ={spec.clock_hz}u", f"RP_MCU_MAX_HZ={spec.max_clock_hz}u", f'RP_BOARD_NAME="{board}"',
           f"RP_HSE_HZ={spec.hse.hz}u", f"RP_HSE_BYPASS={int(spec.hse.mode == 'bypass')}",
           f"RP_UART_USART={uart[-1]}", f"RP_UART_BAUD={baud}u"]
    if spec.watchdog_s:
        out.append(f"RP_WATCHDOG_MS={round(spec.watchdog_s * 1000)}u")
    if spec.cycle_counter == "dwt":
        out.append("RP_TICKS_DWT=1")
    if semihosting is None:
        semihosting = spec.backend == "qemu"
    out.append(f"RP_SEMIHOSTING={int(semihosting)}")
    return out


def flags(dsp: bool = True, defines: Iterable[str] = (), board: str | None = None,
          semihosting: bool | None = None) -> list[str]:
    """Compiler flags: CPU, C flags, ``-D`` for each define, then the board's defines (``board``) unless
    ``defines`` already sets them; ``dsp=False`` forces the portable C paths (RP_USE_DSP=0)."""
    defs = list(defines) + ([] if dsp else ["RP_USE_DSP=0"])
    if board is not None:
        defs += [d for d in board_defines(board, semihosting) if not _has(defs, d.split("=", 1)[0])]
    elif semihosting is not None and not _has(defs, "RP_SEMIHOSTING"):
        defs.append(f"RP_SEMIHOSTING={int(semihosting)}")
    return [*CPU_FLAGS, *CFLAGS, *(f"-D{d}" for d in defs)]


def log_summary(log: str) -> str:
    """The first compiler errors or linker messages (e.g. the RAM ASSERT), not collect2's summary line."""
    lines = [ln.strip() for ln in log.strip().splitlines()]
    key = [ln for ln in lines if ("error" in ln or "/ld: " in ln) and "collect2" not in ln
           and "warnings being treated" not in ln]
    return " | ".join(key[:3] or lines[-3:])


def build_elf(main_c: Path, out: Path, board: str = DEFAULT_BOARD, dsp: bool = True, *,
              extra_sources: Iterable[Path] = (), include_dirs: Iterable[Path] = (), defines: Iterable[str] = (),
              stack_size: int = linker.DEFAULT_STACK, semihosting: bool | None = None,
              kernels: bool = True, layout: linker.MemoryMap | None = None) -> Path:
    """Kernels (unless ``kernels=False``) + runtime + ``main_c`` + ``extra_sources`` → ``out`` (ELF) for ``board``.

    Also writes ``out`` with suffix ``.ld`` (the rendered linker script, ``stack_size``-byte stack reserve) and
    ``.map``. ``semihosting=None`` means on for QEMU boards, off for the others; ``defines`` win over it.
    ``layout`` replaces the board's memory map (emulator test and measurement programs only: linker.render).
    """
    cc = require_toolchain()
    out = Path(out)
    script = linker.write_script(board, out.with_suffix(".ld"), stack_size, layout)
    sources = (kernel_sources() if kernels else []) + runtime_sources() + [Path(main_c), *map(Path, extra_sources)]
    includes = [FIRMWARE / "include", FIRMWARE / "runtime", *map(Path, include_dirs)]
    compile_flags = [*flags(dsp, defines, board, semihosting), *SPECS, *(f"-I{d}" for d in includes)]
    run = compile_and_link(cc, compile_flags, sources, out,
                           [*LDFLAGS, f"-Wl,-Map={out.with_suffix('.map')}", f"-T{script}"])
    if run.returncode != 0:
        raise BuildError(f"firmware build failed ({cc} exit {run.returncode}): {log_summary(run.stderr or run.stdout)}")
    return out
