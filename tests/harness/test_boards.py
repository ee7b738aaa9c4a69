"""boards.yaml: the shipped profiles load, and every schema mistake is one line naming file, board and field."""

import subprocess
import sys
from pathlib import Path

import pytest

from harness import boards
from harness.build import linker
from harness.errors import BoardsError, UsageError

ROOT = Path(__file__).resolve().parents[2]

GOOD = """\
good-board:
  backend: pyocd
  pyocd_target: stm32f429xi
  mcu: STM32F429ZI
  flash: {origin: 0x08000000, size: 0x200000}
  ram: [{name: sram, origin: 0x20000000, size: 0x30000}, {name: ccm, origin: 0x10000000, size: 0x10000}]
  clock_hz: 180000000
  cycle_counter: dwt
"""

EXPECTED = {  # name: (backend, backend setting, flash size, {ram name: (origin, size)})
    # linked as the real F405 (128 KiB), although QEMU maps 192 KiB, and without CCM, which QEMU does not map
    "qemu-stm32f405": ("qemu", "netduinoplus2", 0x100000, {"sram": (0x20000000, 0x20000)}),
    "renode-stm32f4": ("renode", "Renode/stm32f4-harness.repl", 0x200000,
                       {"sram": (0x20000000, 0x30000), "ccm": (0x10000000, 0x10000)}),
    "nucleo-f429zi": ("pyocd", "stm32f429xi", 0x200000,
                      {"sram": (0x20000000, 0x30000), "ccm": (0x10000000, 0x10000)}),
    "nucleo-f439zi": ("pyocd", "stm32f439xi", 0x200000,
                      {"sram": (0x20000000, 0x30000), "ccm": (0x10000000, 0x10000)}),
    "stm32f4-discovery": ("pyocd", "stm32f407vgtx", 0x100000,
                          {"sram": (0x20000000, 0x20000), "ccm": (0x10000000, 0x10000)}),
    "virtual-bench-f405": ("pyocd", "virtual-stm32f405", 0x100000, {"sram": (0x20000000, 0x20000)}),
}


def _error(tmp_path, text: str) -> str:
    path = tmp_path / "boards.yaml"
    path.write_text(text)
    with pytest.raises(BoardsError) as info:
        boards.load_boards(path)
    message = str(info.value)
    assert "\n" not in message and message.startswith(str(path))
    return message[len(str(path)):]


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_shipped_boards_load_with_the_expected_backend_and_memory(name):
    board = boards.board(name)
    backend, setting, flash_size, ram = EXPECTED[name]
    assert board.name == name and board.backend == backend
    real = board.on_serial_port and not board.emulator  # faster defaults where the link carries them
    assert board.settings[board.spec.key] == setting and (board.baud >= 921_600 if real else board.baud == 115200)
    assert (board.flash.origin, board.flash.size) == (0x08000000, flash_size)
    assert {r.name: (r.origin, r.size) for r in board.ram} == ram
    assert board.cycle_counter == ("tim2-icount" if board.emulator == "qemu" else "dwt")
    slow_start = {"renode-stm32f4": boards.Timeouts(60.0, 120.0)}  # .NET start-up
    assert board.timeouts == slow_start.get(name, boards.Timeouts(**boards.DEFAULT_TIMEOUTS))
    assert board.clock_hz in (168_000_000, 180_000_000)


def test_shipped_file_has_exactly_the_known_boards():
    assert set(boards.load_boards()) == set(EXPECTED) | {"host"}


def test_linker_delegates_and_keeps_returning_the_raw_dict():
    raw = linker.board_profile("qemu-stm32f405")
    assert raw is not None and isinstance(raw, dict) and raw == boards.board("qemu-stm32f405").profile
    assert raw["machine"] == "netduinoplus2" and raw["ram"][0]["size"] == 0x20000
    assert linker.load_boards() == {n: b.profile for n, b in boards.load_boards().items() if n != "host"}


def test_optional_fields_override_the_defaults(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(GOOD + "  baud: 921600\n  timeouts: {boot: 5}\n  uart: {index: 2, name: USART3}\n")
    board = boards.board("good-board", path)
    assert board.baud == 921600 and board.timeouts == boards.Timeouts(boot=5.0, inference=60.0)
    assert dict(board.uart) == {"index": 2, "name": "USART3"}


def test_pyocd_settings_default_the_swd_clock_and_resolve_the_pack_from_the_repository(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(GOOD + "good-pack:\n" + GOOD.split("\n", 1)[1] + "  pack: packs/Keil.STM32F4xx_DFP.2.17.1.pack\n"
                    "  frequency: 1800000\n")
    plain, packed = boards.board("good-board", path), boards.board("good-pack", path)
    assert plain.settings["frequency"] == boards.DEFAULT_SWD_HZ == 4_600_000 and "pack" not in plain.settings
    assert packed.settings["pack"] == str(ROOT / "packs/Keil.STM32F4xx_DFP.2.17.1.pack")
    assert packed.settings["frequency"] == 1_800_000


def test_emulated_boards_carry_no_pyocd_settings():
    assert set(boards.board("qemu-stm32f405").settings) == {"machine", "baud"}


@pytest.mark.parametrize("name, uart", [("nucleo-f429zi", "USART3"), ("nucleo-f439zi", "USART3"),
                                        ("stm32f4-discovery", "USART2"), ("qemu-stm32f405", "USART1")])
def test_uart_is_the_one_wired_to_the_host(name, uart):
    # Nucleo-144: the ST-LINK/V2-1 VCP is USART3 (PD8/PD9). Discovery: PA9 (USART1 TX) is OTG VBUS with 4.7 uF on
    # it, so USART2 on PA2/PA3 (the DISC1's VCP once wired, or an adapter)
    assert boards.board(name).uart["name"] == uart


@pytest.mark.parametrize("name, mode, watchdog", [("nucleo-f429zi", "bypass", 4.0), ("nucleo-f439zi", "bypass", 4.0),
                                                  ("stm32f4-discovery", "crystal", 4.0),
                                                  ("qemu-stm32f405", "crystal", None)])
def test_hse_mode_and_watchdog_are_board_properties(name, mode, watchdog):
    # Nucleo-144: the ST-LINK's MCO drives OSC_IN, so the HSE is bypassed, never tried as a crystal first
    board = boards.board(name)
    assert board.hse == boards.Hse(mode, 8_000_000) and board.watchdog_s == watchdog


def test_probe_and_connect_mode_are_pyocd_settings(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(GOOD + "  probe: 066DFF485550755187121723\n  connect_mode: under-reset\n")
    board = boards.board("good-board", path)
    assert board.settings["probe"] == "066DFF485550755187121723" and board.settings["connect_mode"] == "under-reset"
    assert boards.board("nucleo-f429zi").settings["connect_mode"] == "halt"


@pytest.mark.parametrize("mcu, top", [("STM32F405RG", 168), ("STM32F407VG", 168), ("STM32F429ZI", 180),
                                      ("STM32F439", 180)])
def test_the_parts_top_speed_comes_from_the_mcu(mcu, top):
    assert boards.mcu_max_hz(mcu) == top * 10**6


@pytest.mark.parametrize("name, unit", [("qemu-stm32f405", "instructions"), ("renode-stm32f4", "instructions"),
                                        ("nucleo-f429zi", "cycles")])
def test_tick_units(name, unit):
    assert boards.board(name).tick_unit == unit


def test_a_virtual_bench_board_is_driven_like_a_board_but_counts_like_its_emulator():
    bench = boards.board("virtual-bench-f405")
    assert bench.backend == "pyocd" and bench.emulator == "qemu" and not bench.physical
    assert bench.tick_unit == "instructions" and not bench.models_clock
    assert boards.board("nucleo-f429zi").physical and boards.board("renode-stm32f4").models_clock


def test_a_real_boards_tim2_counts_timer_ticks_not_instructions(tmp_path):
    path = tmp_path / "b.yaml"
    path.write_text(GOOD.replace("cycle_counter: dwt", "cycle_counter: tim2-icount"))
    assert boards.board("good-board", path).tick_unit == "timer ticks"


def test_board_is_frozen():
    board = boards.board("nucleo-f429zi")
    with pytest.raises(AttributeError):
        board.backend = "qemu"


@pytest.mark.parametrize("text, expected", [
    ("a: [1, 2\nb: 3\n", ":2: YAML syntax error: expected ',' or ']', but got ':'"),
    ("- just\n- a list\n", ": expected a mapping of board name to profile at the top level (got list)"),
    ("", ": expected a mapping of board name to profile at the top level (got NoneType)"),
    (GOOD + GOOD, r":9: YAML syntax error: duplicate key 'good-board'"),
    ("x: 3\n", ": board x: profile must be a mapping (got 3)"),
    (GOOD.replace("pyocd_target", "machine").replace("backend: pyocd", "backend: jlink"),
     ": board good-board: backend must be one of qemu, renode, pyocd, host (got 'jlink')"),
    (GOOD.replace("  backend: pyocd\n", ""), ": board good-board: missing required field backend"),
    (GOOD.replace("  clock_hz: 180000000\n", ""), ": board good-board: missing required field clock_hz"),
    (GOOD.replace("  pyocd_target: stm32f429xi\n", ""), ": board good-board: missing required field pyocd_target"),
    (GOOD.replace("size: 0x10000}", "size: abc}"),
     ": board good-board: ram[1].size must be a positive integer (got 'abc')"),
    (GOOD.replace("clock_hz: 180000000", "clock_hz: true"),
     ": board good-board: clock_hz must be a positive integer (got True)"),
    (GOOD.replace("origin: 0x08000000", "origin: -1"),
     ": board good-board: flash.origin must be a non-negative integer (got -1)"),
    (GOOD.replace("ram: [", "ram: [[1], "), ": board good-board: ram[0] must be a mapping (got [1])"),
    (GOOD.replace("mcu: STM32F429ZI", "mcu: 429"), ": board good-board: mcu must be a non-empty string (got 429)"),
    (GOOD.replace("cycle_counter: dwt", "cycle_counter: systick"),
     ": board good-board: cycle_counter must be one of tim2-icount, dwt (got 'systick')"),
    (GOOD + "  vcp: cp2102\n",
     ": board good-board: vcp must be one of stlink-v2-1, stlink-v2-a (got 'cp2102')"),
    (GOOD + "  timeouts: {boot: 0}\n",
     ": board good-board: timeouts.boot must be a positive number of seconds (got 0)"),
    (GOOD + "  clock_mhz: 180\n", ": board good-board: unknown key clock_mhz; allowed: backend, baud, clock_hz, "
                                  "connect_mode, cycle_counter, emulator, flash, frequency, hse, mcu, pack, "
                                  "probe, pyocd_target, ram, timeouts, uart, vcp, watchdog_s"),
    (GOOD.replace("backend: pyocd", "backend: qemu").replace("pyocd_target: stm32f429xi", "machine: m")
     + "  pack: x.pack\n", ": board good-board: unknown key pack; allowed: backend, baud, clock_hz, cycle_counter, "
                           "flash, hse, machine, mcu, ram, timeouts, uart, vcp, watchdog_s"),
    (GOOD.replace("mcu: STM32F429ZI", "mcu: STM32F407VG"),
     ": board good-board: clock_hz must be whole MHz from 50 (the PLL's minimum) to 168 MHz (STM32F407VG's "
     "maximum) (got 180000000)"),
    (GOOD.replace("clock_hz: 180000000", "clock_hz: 24000000"),
     ": board good-board: clock_hz must be whole MHz from 50 (the PLL's minimum) to 180 MHz"),
    (GOOD.replace("clock_hz: 180000000", "clock_hz: 100500000"), ": board good-board: clock_hz must be whole MHz"),
    (GOOD.replace("mcu: STM32F429ZI", "mcu: STM32F446RE"),
     ": board good-board: mcu STM32F446RE: not an STM32F4 part the firmware runtime knows"),
    (GOOD + "  hse: {mode: oscillator}\n",
     ": board good-board: hse.mode must be one of crystal, bypass (got 'oscillator')"),
    (GOOD + "  hse: {hz: 25000000}\n", ": board good-board: hse.hz must be 4-26 MHz in steps of 2 MHz"),
    (GOOD + "  watchdog_s: 40\n", ": board good-board: watchdog_s must be at most 32 s"),
    (GOOD + "  connect_mode: pre-reset\n",
     ": board good-board: connect_mode must be one of halt, under-reset (got 'pre-reset')"),
    (GOOD + "  frequency: 4600000.5\n", ": board good-board: frequency must be a positive integer (got 4600000.5)"),
    (GOOD + "  pack: ''\n", ": board good-board: pack must be a non-empty string (got '')"),
    (GOOD + "  machine: netduinoplus2\n", ": board good-board: unknown key machine; allowed: "),
    (GOOD + "  timeouts: {boot: 5, infer: 9}\n",
     ": board good-board: unknown key infer in timeouts; allowed: boot, inference"),
    (GOOD.replace("size: 0x10000}", "size: 0x10000, kind: ccm}"),
     ": board good-board: unknown key kind in ram[1]; allowed: name, origin, size"),
    (GOOD.replace("{name: sram, origin: 0x20000000, size: 0x30000}", "{name: sram, size: 0x30000}"),
     ": board good-board: missing required field origin in ram[0]"),
    (GOOD.replace("origin: 0x10000000", "origin: 0x2002f000"),
     ": board good-board: memory regions sram [0x20000000, 0x20030000) and ccm [0x2002f000, 0x2003f000) overlap"),
    (GOOD.replace("ram: [", "ram: [{name: sram, origin: 0x30000000, size: 4}, "),
     ": board good-board: ram region names must be unique (got ['sram', 'sram', 'ccm'])"),
    (GOOD.replace("backend: pyocd", "backend: renode").replace("pyocd_target: stm32f429xi", "platform: f4.repl"),
     ": board good-board: platform must be a .repl path under Renode/"),
])
def test_each_mistake_is_one_line_naming_file_board_and_field(tmp_path, text, expected):
    assert _error(tmp_path, text).startswith(expected)


def test_missing_file_is_one_line(tmp_path):
    with pytest.raises(BoardsError, match=r"cannot read board profiles .*nope\.yaml: No such file"):
        boards.load_boards(tmp_path / "nope.yaml")


def test_unknown_board_lists_the_known_ones():
    with pytest.raises(UsageError, match=r"^unknown board 'no-such-board'; boards\.yaml has: host, nucleo-f429zi, "
                                         r"nucleo-f439zi, qemu-stm32f405, renode-stm32f4, stm32f4-discovery, "
                                         r"virtual-bench-f405$"):
        boards.board("no-such-board")


def test_cli_unknown_board_is_one_line():
    run = subprocess.run([sys.executable, "-m", "harness", "build", "--board", "no-such-board"],
                         capture_output=True, text=True, cwd=ROOT, check=False)
    assert run.returncode == 2 and "Traceback" not in run.stderr
    assert run.stderr.strip().splitlines()[-1].endswith(
        "unknown board 'no-such-board'; boards.yaml has: host, nucleo-f429zi, nucleo-f439zi, qemu-stm32f405, "
        "renode-stm32f4, stm32f4-discovery, virtual-bench-f405")
