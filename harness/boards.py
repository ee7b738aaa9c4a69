"""Board profiles from ``boards.yaml``, checked against one schema.

``load_boards()`` reads the file and returns ``{name: Board}``; ``board(name)`` returns one of them. Every mistake
in the file is a one-line ``BoardsError`` naming the file, the board and the field, and saying what is expected::

    boards.yaml: board nucleo-f429zi: ram[1].size must be a positive integer (got 'abc')

The schema, per board:

    backend        required   qemu | renode | pyocd | host (harness/backends.py; a host board takes only timeouts)
    mcu            required   an STM32F4 part we know the limits of: F405/F407/F415/F417 (168 MHz) or
                              F427/F429/F437/F439 (180 MHz with over-drive), e.g. ``STM32F439ZI``
    flash          required   {origin, size}
    ram            required   non-empty list of {name, origin, size}; no two regions (nor flash) may overlap
    clock_hz       required   the PLL's system clock: whole MHz, at least 50 MHz (PLL N >= 50 at a 2 MHz input),
                              at most the part's maximum
    cycle_counter  required   tim2-icount | dwt
    uart           optional   {index, name}: default index 0 (QEMU's first -serial), name USART1
    timeouts       optional   {boot, inference} in seconds; defaults in ``DEFAULT_TIMEOUTS``
    baud           optional   positive integer, default 115200
    vcp            optional   the USB-serial bridge on the board's UART, from ``harness.bridges.BRIDGES``
                              (``stlink-v2-1``): the baud rate is then checked against both ends' real rates
    hse            optional   {mode, hz}: ``bypass`` (an external clock on OSC_IN, such as the Nucleo-144's ST-LINK
                              MCO) or ``crystal`` (default), and its frequency (default 8 MHz; 4-26 MHz in steps
                              of 2 MHz). The firmware starts the HSE in that mode only.
    watchdog_s     optional   independent watchdog timeout in seconds (at most 32); the firmware feeds it
                              between layers and while waiting for the host, so a hung kernel resets the board
                              and the next HELLO names the watchdog. Default: off
    machine        qemu only, required     QEMU ``-M`` machine (``netduinoplus2``)
    platform       renode only, required   ``.repl`` path under ``Renode/``
    pyocd_target   pyocd only, required    pyOCD target type: built-in (``stm32f429xi``) or from a pack
                                           (``stm32f407vgtx``); ``pyocd list --targets`` shows the built-in ones
    pack           pyocd only, optional    CMSIS pack the target type needs (a ``Keil.STM32F4xx_DFP.<ver>.pack``
                                           file or an unpacked directory with its ``.pdsc``); relative paths are
                                           from the repository root; checked when a session starts, not here
    frequency      pyocd only, optional    SWD clock in Hz, default ``DEFAULT_SWD_HZ`` (ST-LINK/V2-1 rounds a
                                           request down to its next step: 4 MHz would give 1.8 MHz)
    probe          pyocd only, optional    the debug probe's unique id (``pyocd list``), for a board whose serial
                                           port is not its probe's virtual COM port (a USB-serial adapter)
    connect_mode   pyocd only, optional    ``halt`` (default) or ``under-reset`` (holds NRST while connecting:
                                           recovers a core that is locked up or has its SWD pins reconfigured)
    emulator       pyocd only, optional    ``qemu``: a virtual bench board. The harness drives it through the same
                                           pyOCD path as a real board, but the probe's flash and reset are backed by
                                           QEMU (``harness virtual-bench``), so its clock is not modelled and its
                                           ticks are instructions

Unknown keys are refused with the list of allowed ones, so a typo never silently falls back to a default.
The raw mapping stays available as ``Board.profile`` for callers that still want a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import yaml

from harness.backends import BACKENDS as _BACKENDS
from harness.backends import Backend
from harness.bridges import BRIDGES
from harness.errors import BoardsError
from harness.project import SOURCE

ROOT = SOURCE.root
BOARDS_YAML = SOURCE.boards_yaml

BACKENDS = tuple(_BACKENDS)  # harness/backends.py: the one table of backends
CYCLE_COUNTERS = ("tim2-icount", "dwt")
DEFAULT_BAUD = 115200
DEFAULT_TIMEOUTS = MappingProxyType({"boot": 20.0, "inference": 60.0})
COMMON_REQUIRED = ("backend", "mcu", "flash", "ram", "clock_hz", "cycle_counter")
COMMON_OPTIONAL = ("uart", "timeouts", "baud", "hse", "watchdog_s", "vcp")
HOST_OPTIONAL = ("timeouts",)  # a host board has no chip to describe: only its timeouts can be set
VIRTUAL_BENCH_EMULATORS = ("qemu",)
HSE_MODES = ("crystal", "bypass")
CONNECT_MODES = ("halt", "under-reset")
# The parts' top speeds (RM0090 5.1.4): the F42x/F43x reach 180 MHz with the regulator's over-drive.
MCU_MAX_HZ = (("STM32F405", 168_000_000), ("STM32F407", 168_000_000), ("STM32F415", 168_000_000),
              ("STM32F417", 168_000_000), ("STM32F427", 180_000_000), ("STM32F429", 180_000_000),
              ("STM32F437", 180_000_000), ("STM32F439", 180_000_000))
PLL_MIN_HZ = 50_000_000
WATCHDOG_MAX_S = 32.0  # the IWDG's longest timeout at the nominal 32 kHz LSI (prescaler 256, reload 4096)
UART_KEYS = ("index", "name")
DEFAULT_UART = MappingProxyType({"index": 0, "name": "USART1"})  # QEMU's first -serial; USART1 on PA9/PA10
DEFAULT_SWD_HZ = 4_600_000  # the lowest request ST-LINK/V2-1 serves at 4.6 MHz (docs/notes/pyocd-serial.md §4)


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


@dataclass(frozen=True)
class Hse:
    mode: str   # crystal | bypass
    hz: int


@dataclass(frozen=True)
class Timeouts:
    boot: float
    inference: float


@dataclass(frozen=True)
class Board:
    name: str
    backend: str
    mcu: str
    flash: MemoryRegion
    ram: tuple[MemoryRegion, ...]
    clock_hz: int
    cycle_counter: str
    uart: Mapping[str, object]
    timeouts: Timeouts
    settings: Mapping[str, object]  # backend settings: machine / platform / pyocd_target (+ pack, frequency, probe,
                                    # connect_mode), baud
    profile: dict = field(repr=False, compare=False)  # the raw boards.yaml entry
    hse: Hse = Hse("crystal", 8_000_000)
    watchdog_s: float | None = None
    vcp: str | None = None      # the USB-serial bridge (harness/bridges.py), when the profile names it

    @property
    def max_clock_hz(self) -> int:
        return mcu_max_hz(self.mcu)

    @property
    def spec(self) -> Backend:
        """Its backend's entry in harness/backends.py."""
        return _BACKENDS[self.backend]

    @property
    def emulator(self) -> str | None:
        """What runs the firmware when it is not silicon: ``qemu``/``renode``/``host``, or a virtual bench board's
        emulator."""
        return self.spec.emulator or self.settings.get("emulator")

    @property
    def physical(self) -> bool:
        """A real chip on a bench (noisy cycles, a lock per board), not an emulator or a virtual bench board."""
        return self.emulator is None

    @property
    def on_serial_port(self) -> bool:
        """A board on the bench (real or virtual): given with its serial port, flashed through a probe."""
        return self.spec.on_serial_port

    @property
    def models_clock(self) -> bool:
        """Whether the clock the firmware reports means anything: QEMU does not model the RCC (the firmware always
        falls back to the HSI there), a host has no clock tree; Renode's RCC sets ready bits as they are asked
        for, and boards are boards."""
        return self.spec.models_clock and self.emulator != "qemu"

    @property
    def baud(self) -> int:
        return self.settings["baud"]

    @property
    def tick_unit(self) -> str:
        """What its ticks count: emulators count instructions (QEMU's TIM2 under -icount, Renode's DWT); a real
        board's DWT counts core cycles, and a real board's TIM2 counts its timer clock (APB1 x 2), not cycles."""
        if self.spec.tick_unit:
            return self.spec.tick_unit
        if self.emulator:
            return "instructions"
        return "cycles" if self.cycle_counter == "dwt" else "timer ticks"


class _UniqueKeyLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that refuses a key given twice (a copied board left with its old name)."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep)


_UniqueKeyLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


class _Check:
    """Raises one-line errors prefixed with the file and board."""

    def __init__(self, file: str, board: str):
        self.prefix = f"{file}: board {board}"

    def fail(self, what: str, expected: str, got):
        raise BoardsError(f"{self.prefix}: {what} {expected} (got {got!r})")

    def keys(self, what: str | None, mapping: dict, required: tuple, optional: tuple = ()):
        """Unknown keys (listing the allowed ones), then the first missing required key."""
        unknown = sorted(str(k) for k in mapping if k not in required + optional)
        inside = f" in {what}" if what else ""
        if unknown:
            raise BoardsError(f"{self.prefix}: unknown key{'s' if len(unknown) > 1 else ''} {', '.join(unknown)}"
                              f"{inside}; allowed: {', '.join(sorted(required + optional))}")
        missing = [k for k in required if k not in mapping]
        if missing:
            raise BoardsError(f"{self.prefix}: missing required field {missing[0]}{inside}")

    def mapping(self, what: str, value) -> dict:
        if not isinstance(value, dict):
            self.fail(what, "must be a mapping", value)
        return value

    def integer(self, what: str, value, minimum: int = 1) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < minimum:
            self.fail(what, "must be a positive integer" if minimum == 1 else "must be a non-negative integer", value)
        return value

    def seconds(self, what: str, value) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float) or not value > 0:
            self.fail(what, "must be a positive number of seconds", value)
        return float(value)

    def string(self, what: str, value) -> str:
        if not isinstance(value, str) or not value.strip():
            self.fail(what, "must be a non-empty string", value)
        return value

    def choice(self, what: str, value, choices: tuple) -> str:
        if value not in choices:
            self.fail(what, f"must be one of {', '.join(choices)}", value)
        return value

    def region(self, what: str, value, named: bool) -> MemoryRegion:
        value = self.mapping(what, value)
        self.keys(what, value, ("name", "origin", "size") if named else ("origin", "size"))
        name = self.string(f"{what}.name", value["name"]) if named else "flash"
        return MemoryRegion(name, self.integer(f"{what}.origin", value["origin"], minimum=0),
                            self.integer(f"{what}.size", value["size"]))


def mcu_max_hz(mcu: str) -> int:
    """The part's top system clock; BoardsError for a part this runtime does not know."""
    for prefix, hz in MCU_MAX_HZ:
        if mcu.upper().startswith(prefix):
            return hz
    raise BoardsError(f"mcu {mcu}: not an STM32F4 part the firmware runtime knows "
                      f"(one of {', '.join(p for p, _ in MCU_MAX_HZ)}, with any suffix)")


def _clock(check: _Check, mcu: str, value) -> int:
    hz = check.integer("clock_hz", value)
    try:
        top = mcu_max_hz(mcu)
    except BoardsError as exc:
        raise BoardsError(f"{check.prefix}: {exc}") from None
    if hz % 1_000_000 or not PLL_MIN_HZ <= hz <= top:
        check.fail("clock_hz", f"must be whole MHz from {PLL_MIN_HZ // 10**6} (the PLL's minimum) to "
                   f"{top // 10**6} MHz ({mcu}'s maximum)", value)
    return hz


def _hse(check: _Check, value) -> Hse:
    given = check.mapping("hse", value)
    check.keys("hse", given, (), ("mode", "hz"))
    mode = check.choice("hse.mode", given.get("mode", "crystal"), HSE_MODES)
    hz = check.integer("hse.hz", given.get("hz", 8_000_000))
    if hz % 2_000_000 or not 4_000_000 <= hz <= 26_000_000:
        check.fail("hse.hz", "must be 4-26 MHz in steps of 2 MHz (the PLL input is 2 MHz)", hz)
    return Hse(mode, hz)


def _platform(check: _Check, value) -> str:
    path = check.string("platform", value)
    parts = PurePosixPath(path).parts
    if len(parts) < 2 or parts[0] != "Renode" or ".." in parts or not path.endswith(".repl"):
        check.fail("platform", "must be a .repl path under Renode/ (e.g. Renode/stm32f4-harness.repl)", value)
    return path


def _timeouts(check: _Check, profile: dict) -> Timeouts:
    given = check.mapping("timeouts", profile.get("timeouts", {}))
    check.keys("timeouts", given, (), tuple(DEFAULT_TIMEOUTS))
    return Timeouts(**{k: check.seconds(f"timeouts.{k}", given.get(k, v)) for k, v in DEFAULT_TIMEOUTS.items()})


def _board(file: str, name: str, profile) -> Board:
    check = _Check(file, name)
    profile = check.mapping("profile", profile)
    if "backend" not in profile:
        raise BoardsError(f"{check.prefix}: missing required field backend (one of {', '.join(BACKENDS)})")
    backend = check.choice("backend", profile["backend"], BACKENDS)
    spec = _BACKENDS[backend]
    if not spec.chip:
        check.keys(None, profile, ("backend",), HOST_OPTIONAL)
        return Board(name=name, backend=backend, mcu=backend, flash=MemoryRegion("flash", 0, 0), ram=(),
                     clock_hz=0, cycle_counter=backend, uart=MappingProxyType({}),
                     timeouts=_timeouts(check, profile), settings=MappingProxyType({"baud": DEFAULT_BAUD}),
                     profile=profile)
    own = spec.key
    check.keys(None, profile, COMMON_REQUIRED + (own,), COMMON_OPTIONAL + spec.optional)

    flash = check.region("flash", profile["flash"], named=False)
    ram_list = profile["ram"]
    if not isinstance(ram_list, list) or not ram_list:
        check.fail("ram", "must be a non-empty list of {name, origin, size}", ram_list)
    ram = tuple(check.region(f"ram[{i}]", entry, named=True) for i, entry in enumerate(ram_list))
    names = [r.name for r in ram]
    if len(set(names)) != len(names):
        check.fail("ram", "region names must be unique", names)
    regions = (flash, *ram)
    for i, a in enumerate(regions):
        for b in regions[i + 1:]:
            if a.origin < b.end and b.origin < a.end:
                raise BoardsError(f"{check.prefix}: memory regions {a.name} [{a.origin:#x}, {a.end:#x}) and "
                                  f"{b.name} [{b.origin:#x}, {b.end:#x}) overlap")

    uart = check.mapping("uart", profile.get("uart", {}))
    check.keys("uart", uart, (), UART_KEYS)
    if "index" in uart:
        check.integer("uart.index", uart["index"], minimum=0)
    if "name" in uart:
        check.string("uart.name", uart["name"])
    uart = {**DEFAULT_UART, **uart}  # defaults applied here once; nothing downstream re-applies them

    timeouts = _timeouts(check, profile)
    setting = _platform(check, profile[own]) if own == "platform" else check.string(own, profile[own])
    settings = {own: setting, "baud": check.integer("baud", profile.get("baud", DEFAULT_BAUD))}
    if "frequency" in spec.optional:
        settings["frequency"] = check.integer("frequency", profile.get("frequency", DEFAULT_SWD_HZ))
        if "probe" in profile:
            settings["probe"] = check.string("probe", profile["probe"])
        settings["connect_mode"] = check.choice("connect_mode", profile.get("connect_mode", "halt"), CONNECT_MODES)
        if "emulator" in profile:
            settings["emulator"] = check.choice("emulator", profile["emulator"], VIRTUAL_BENCH_EMULATORS)
        if "pack" in profile:
            pack = Path(check.string("pack", profile["pack"])).expanduser()
            settings["pack"] = str(pack if pack.is_absolute() else ROOT / pack)
    watchdog = profile.get("watchdog_s")
    if watchdog is not None and check.seconds("watchdog_s", watchdog) > WATCHDOG_MAX_S:
        check.fail("watchdog_s", f"must be at most {WATCHDOG_MAX_S:g} s (the IWDG's longest timeout)", watchdog)
    mcu = check.string("mcu", profile["mcu"])
    return Board(name=name, backend=backend, mcu=mcu, flash=flash, ram=ram,
                 clock_hz=_clock(check, mcu, profile["clock_hz"]), hse=_hse(check, profile.get("hse", {})),
                 watchdog_s=float(watchdog) if watchdog is not None else None,
                 vcp=check.choice("vcp", profile["vcp"], tuple(BRIDGES)) if "vcp" in profile else None,
                 cycle_counter=check.choice("cycle_counter", profile["cycle_counter"], CYCLE_COUNTERS),
                 uart=MappingProxyType(dict(uart)), timeouts=timeouts, settings=MappingProxyType(settings),
                 profile=profile)


def load_boards(path: str | Path | None = None) -> dict[str, Board]:
    """Every board in ``path`` (default: the repository's ``boards.yaml``), checked; BoardsError on any mistake."""
    path = Path(path) if path is not None else BOARDS_YAML
    file = _display(path)
    if path.is_dir():
        raise BoardsError(f"board profiles {file} is a folder, not a YAML file: pass --boards-file FILE")
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise BoardsError(f"cannot read board profiles {file}: {exc.strerror or exc}; pass --boards-file FILE "
                          "(a boards.yaml)") from exc
    except UnicodeDecodeError as exc:
        raise BoardsError(f"{file} is not UTF-8 text (byte {exc.start}: {exc.reason}): save it as UTF-8 YAML") \
            from exc
    try:
        data = yaml.load(text, Loader=_UniqueKeyLoader)  # noqa: S506 - a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise BoardsError(f"{file}{where}: YAML syntax error: {problem}") from exc
    if not isinstance(data, dict) or not data:
        raise BoardsError(f"{file}: expected a mapping of board name to profile at the top level "
                          f"(got {type(data).__name__})")
    boards = {}
    for name, profile in data.items():
        if not isinstance(name, str):
            raise BoardsError(f"{file}: board names must be strings (got {name!r})")
        boards[name] = _board(file, name, profile)
    return boards


def board(name: str, path: str | Path | None = None) -> Board:
    """One board from ``path``; an unknown name is a BoardsError listing the known ones."""
    boards = load_boards(path)
    if name not in boards:
        raise BoardsError(f"unknown board {name!r}; {_display(Path(path) if path else BOARDS_YAML)} has: "
                          f"{', '.join(sorted(boards))}")
    return boards[name]


__all__ = ["BACKENDS", "BOARDS_YAML", "Board", "CYCLE_COUNTERS", "DEFAULT_BAUD", "DEFAULT_SWD_HZ", "DEFAULT_TIMEOUTS",
           "Hse", "MemoryRegion", "Timeouts", "board", "load_boards", "mcu_max_hz"]
