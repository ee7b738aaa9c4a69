"""Board profiles from ``boards.yaml``, checked against one schema.

``load_boards()`` reads the file and returns ``{name: Board}``; ``board(name)`` returns one of them. Every mistake
in the file is a one-line ``BoardsError`` naming the file, the board and the field, and saying what is expected::

    boards.yaml: board nucleo-f429zi: ram[1].size must be a positive integer (got 'abc')

The schema, per board:

    backend        required   qemu | renode | pyocd
    mcu            required   non-empty string (``STM32F439ZI``)
    flash          required   {origin, size}
    ram            required   non-empty list of {name, origin, size}; no two regions (nor flash) may overlap
    clock_hz       required   positive integer
    cycle_counter  required   tim2-icount | dwt
    uart           optional   {index, name}
    timeouts       optional   {boot, inference} in seconds; defaults in ``DEFAULT_TIMEOUTS``
    baud           optional   positive integer, default 115200
    machine        qemu only, required     QEMU ``-M`` machine (``netduinoplus2``)
    platform       renode only, required   ``.repl`` path under ``Renode/``
    pyocd_target   pyocd only, required    pyOCD target type: built-in (``stm32f429xi``) or from a pack
                                           (``stm32f407vgtx``); ``pyocd list --targets`` shows the built-in ones
    pack           pyocd only, optional    CMSIS pack the target type needs (a ``Keil.STM32F4xx_DFP.<ver>.pack``
                                           file or an unpacked directory with its ``.pdsc``); relative paths are
                                           from the repository root; checked when a session starts, not here
    frequency      pyocd only, optional    SWD clock in Hz, default ``DEFAULT_SWD_HZ`` (ST-LINK/V2-1 rounds a
                                           request down to its next step: 4 MHz would give 1.8 MHz)

Unknown keys are refused with the list of allowed ones, so a typo never silently falls back to a default.
The raw mapping stays available as ``Board.profile`` for callers that still want a dict.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from types import MappingProxyType

import yaml

from harness.errors import BoardsError

ROOT = Path(__file__).resolve().parents[1]
BOARDS_YAML = ROOT / "boards.yaml"

BACKENDS = ("qemu", "renode", "pyocd")
CYCLE_COUNTERS = ("tim2-icount", "dwt")
DEFAULT_BAUD = 115200
DEFAULT_TIMEOUTS = MappingProxyType({"boot": 20.0, "inference": 60.0})
COMMON_REQUIRED = ("backend", "mcu", "flash", "ram", "clock_hz", "cycle_counter")
COMMON_OPTIONAL = ("uart", "timeouts", "baud")
BACKEND_KEYS = {"qemu": "machine", "renode": "platform", "pyocd": "pyocd_target"}
BACKEND_OPTIONAL = {"qemu": (), "renode": (), "pyocd": ("pack", "frequency")}
UART_KEYS = ("index", "name")
DEFAULT_SWD_HZ = 4_600_000  # the lowest request ST-LINK/V2-1 serves at 4.6 MHz (shared notes pyocd-serial.md §4)


@dataclass(frozen=True)
class MemoryRegion:
    name: str
    origin: int
    size: int

    @property
    def end(self) -> int:
        return self.origin + self.size


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
    settings: Mapping[str, object]  # backend settings: machine / platform / pyocd_target (+ pack, frequency), baud
    profile: dict = field(repr=False, compare=False)  # the raw boards.yaml entry

    @property
    def baud(self) -> int:
        return self.settings["baud"]

    @property
    def tick_unit(self) -> str:
        """What its ticks count: QEMU's TIM2 under -icount and Renode's DWT count instructions; a real DWT, cycles."""
        return "instructions" if self.cycle_counter == "tim2-icount" or self.backend in ("qemu", "renode") else "cycles"


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


def _platform(check: _Check, value) -> str:
    path = check.string("platform", value)
    parts = PurePosixPath(path).parts
    if len(parts) < 2 or parts[0] != "Renode" or ".." in parts or not path.endswith(".repl"):
        check.fail("platform", "must be a .repl path under Renode/ (e.g. Renode/stm32f4-harness.repl)", value)
    return path


def _board(file: str, name: str, profile) -> Board:
    check = _Check(file, name)
    profile = check.mapping("profile", profile)
    if "backend" not in profile:
        raise BoardsError(f"{check.prefix}: missing required field backend (one of {', '.join(BACKENDS)})")
    backend = check.choice("backend", profile["backend"], BACKENDS)
    own = BACKEND_KEYS[backend]
    check.keys(None, profile, COMMON_REQUIRED + (own,), COMMON_OPTIONAL + BACKEND_OPTIONAL[backend])

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

    given = check.mapping("timeouts", profile.get("timeouts", {}))
    check.keys("timeouts", given, (), tuple(DEFAULT_TIMEOUTS))
    timeouts = Timeouts(**{k: check.seconds(f"timeouts.{k}", given.get(k, v)) for k, v in DEFAULT_TIMEOUTS.items()})

    setting = _platform(check, profile[own]) if backend == "renode" else check.string(own, profile[own])
    settings = {own: setting, "baud": check.integer("baud", profile.get("baud", DEFAULT_BAUD))}
    if backend == "pyocd":
        settings["frequency"] = check.integer("frequency", profile.get("frequency", DEFAULT_SWD_HZ))
        if "pack" in profile:
            pack = Path(check.string("pack", profile["pack"])).expanduser()
            settings["pack"] = str(pack if pack.is_absolute() else ROOT / pack)
    return Board(name=name, backend=backend, mcu=check.string("mcu", profile["mcu"]), flash=flash, ram=ram,
                 clock_hz=check.integer("clock_hz", profile["clock_hz"]),
                 cycle_counter=check.choice("cycle_counter", profile["cycle_counter"], CYCLE_COUNTERS),
                 uart=MappingProxyType(dict(uart)), timeouts=timeouts, settings=MappingProxyType(settings),
                 profile=profile)


def load_boards(path: str | Path | None = None) -> dict[str, Board]:
    """Every board in ``path`` (default: the repository's ``boards.yaml``), checked; BoardsError on any mistake."""
    path = Path(path) if path is not None else BOARDS_YAML
    file = _display(path)
    try:
        text = path.read_text()
    except OSError as exc:
        raise BoardsError(f"cannot read board profiles {file}: {exc.strerror or exc}") from exc
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
           "MemoryRegion", "Timeouts", "board", "load_boards"]
