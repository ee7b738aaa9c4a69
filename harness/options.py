"""One table of options, shared by the ``harness`` command line (harness/cli/) and the pytest plugin
(harness/plugin_options.py): each option's name, type, default and what its value means. Both sides' parsers are
generated from it, so ``--model`` or ``--board`` mean one thing wherever they are accepted.

A side or a command may change an option's default (``harness history --model`` defaults to the only model
recorded), add a note, or let it repeat (the plugin's pool of boards); never what its value denotes.

    add(parser, "--model")                     the option on an argparse (sub)parser
    pytest_options("--board", ("--baud", {…}))  (name, addoption keywords) pairs for pytest_addoption
"""

from __future__ import annotations

import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path
from collections.abc import Callable

from harness.preflight import baud_rate, upload_codec
from harness.project import SOURCE

MODELS = SOURCE.models
DEFAULT_MODEL = str(MODELS / "default.npz")
DEFAULT_FIXTURES = str(SOURCE.fixtures)
DEFAULT_BOARD = "qemu-stm32f405"


def model_path(spec: str) -> str:
    """``--model``'s one meaning: a model file, or the name of one in fixtures/models/ (``default`` is
    fixtures/models/default.npz). A path exists, ends in .npz or names a folder; anything else is a name."""
    if not spec or spec.endswith(".npz") or "/" in spec or os.sep in spec or os.path.exists(spec):
        return spec
    return str(MODELS / f"{spec}.npz")


def model_name(path: str) -> str:
    """A model's name in the history: its file's stem (``default`` for fixtures/models/default.npz)."""
    return Path(path).stem


@dataclass(frozen=True)
class Option:
    name: str                          # "--model"
    meaning: str                       # what the value is: the same in every command and in pytest
    default: object = None
    says_default: str = "none"         # the help's "Default: …"
    type: Callable | None = None       # text → value (argparse and pytest call it)
    metavar: str | None = None
    flag: bool = False                 # store_true: given or not
    repeat: bool = False               # action append
    note: str = ""                     # a side's or a command's addition to the help

    @property
    def help(self) -> str:
        return f"{self.meaning}{'; ' + self.note if self.note else ''}. Default: {self.says_default}"

    def kwargs(self) -> dict:
        """The keywords of argparse's add_argument, which pytest's addoption takes too."""
        if self.flag:
            return {"action": "store_true", "help": self.help}
        kw = {"default": self.default, "help": self.help}
        kw.update({"action": "append"} if self.repeat else {})
        kw.update({"type": self.type} if self.type is not None else {})
        kw.update({"metavar": self.metavar} if self.metavar else {})
        return kw


TABLE = {o.name: o for o in (
    Option("--board", "the board: a boards.yaml name (qemu-stm32f405, renode-stm32f4), NAME@/dev/ttyACM0 for a "
           "real board (NAME@PORT,probe=ID with its probe), the port /dev/ttyACM0, or a labgrid farm's place: "
           "labgrid:PLACE or labgrid:TAG=VALUE[,…] (coordinator: --lg-coordinator or LG_COORDINATOR)", DEFAULT_BOARD,
           DEFAULT_BOARD,
           metavar="BOARD"),
    Option("--boards-file", "board profiles", None, "boards.yaml", metavar="PATH"),
    Option("--model", "the model: a .npz file, or the name of one in fixtures/models/; its name in the history is "
           "the file's stem", DEFAULT_MODEL, "default (fixtures/models/default.npz)", type=model_path,
           metavar="MODEL"),
    Option("--fixtures-dir", "folder of labelled images (scenes/, photos/, each image with its .json labels)",
           DEFAULT_FIXTURES, "the repository's fixtures/", metavar="DIR"),
    Option("--baud", "serial baud rate of a real board", None, "boards.yaml", type=baud_rate),
    Option("--codec", "how images cross the serial link: rows (lossless row code, decoded on the device row by "
           "row) or raw; rows needs firmware that takes it (protocol 4)", "rows", "rows", type=upload_codec,
           metavar="CODEC"),
    Option("--no-stream", "upload the whole image before the model runs (by default the firmware's first layers run "
           "as the rows arrive, docs/streaming.md); the same results and counts, the upload and compute in turn",
           says_default="streamed where the firmware can", flag=True),
    Option("--boot-timeout", "seconds for the firmware to answer after start or reset", None, "boards.yaml",
           type=float, metavar="S"),
    Option("--inference-timeout", "seconds for one inference", None, "boards.yaml", type=float, metavar="S"),
    Option("--portable", "build the portable C kernels (RP_USE_DSP=0: C without DSP intrinsics or assembly)",
           says_default="the DSP path", flag=True),
    Option("--latency-margin", "fail a layer slower than its calibrated prediction by more than this; a negative "
           "FRACTION (above -1) demands faster than predicted", 0.10, "0.10", type=float, metavar="FRACTION"),
    Option("--pyocd-pack", "CMSIS pack for a pyOCD target that is not built in (Keil.STM32F4xx_DFP.<ver>.pack)",
           None, "boards.yaml pack:", metavar="PATH"),
    Option("--probe", "a real board's debug probe unique id (`pyocd list`) when its serial port is not the probe's "
           "virtual COM port (a USB-serial adapter)", None,
           "boards.yaml probe:, else the probe with the port's USB serial number", metavar="ID"),
    Option("--allow-clock-fallback", "run on a board whose clock differs from its profile (an HSE or PLL that did "
           "not start); its runs are recorded under their own board key and never gated",
           says_default="such a board fails the handshake", flag=True),
    Option("--repeats", "runs per image, so noisy latency has a median and a spread", None,
           "1 on emulators (their instruction counts are exact), 3 on real boards", type=int, metavar="N"),
    Option("--farm-lease", "seconds a labgrid farm place stays ours without renewal (renewed every sixth of it): a "
           "session killed longer ago than this loses its place to the next one that waits for it", 60.0,
           "60 (labgrid's reservation timeout)", type=float, metavar="S"),
    Option("--farm-wait", "seconds to wait for a free labgrid farm place before giving up, naming the holders",
           3600.0, "3600", type=float, metavar="S"),
    Option("--history", "history store: postgresql://… or a SQLite file", None, ".harness/history.sqlite",
           metavar="PATH|URL"),
    Option("--no-history", "do not record the run", says_default="record it", flag=True),
    Option("--baseline", "gate the run against: auto (the committed fixtures/baselines/<board>/<model>.json when "
           "there is one), file (that file, required), none, a baseline .json, or a git ref whose latest recorded "
           "run is the baseline; thresholds in pyproject.toml [tool.harness.thresholds]", "auto", "auto",
           metavar="SPEC"),
)}
FIELDS = {f.name for f in dataclasses.fields(Option)}


def option(name: str, **changes) -> Option:
    """The table's entry ``name`` with a side's or a command's changes (default, says_default, note, repeat …)."""
    return dataclasses.replace(TABLE[name], **changes)


def add(parser, name: str, *aliases: str, **changes) -> None:
    """Add the table's option ``name`` (also spelt ``aliases``) to an argparse parser. ``changes`` are Option
    fields; any other keyword (nargs, const) goes to add_argument as it is."""
    extra = {k: changes.pop(k) for k in list(changes) if k not in FIELDS}
    parser.add_argument(name, *aliases, **option(name, **changes).kwargs(), **extra)


def pytest_options(*entries) -> tuple[tuple[str, dict], ...]:
    """``(name, addoption keywords)`` per entry, an entry being a name or ``(name, {changes})``."""
    pairs = [(e, {}) if isinstance(e, str) else e for e in entries]
    return tuple((name, option(name, **changes).kwargs()) for name, changes in pairs)


def read_model(path: str):
    """The model a ``--model`` value names (harness.model.modelfile.load); a name with no file lists the names."""
    from harness.errors import InputError, UsageError
    from harness.model.modelfile import load

    file = Path(path)
    if file.parent == MODELS and not file.exists():
        if path == DEFAULT_MODEL:
            raise UsageError("no --model given and no default model shipped yet; create one with "
                             "`harness model init -o model.npz` and pass --model model.npz")
        names = ", ".join(sorted(m.stem for m in MODELS.glob("*.npz"))) or "none"
        raise InputError(f"no model {file.stem!r} in fixtures/models/ (it has {names}): pass a model file (.npz) "
                         "or one of those names")
    return load(path)
