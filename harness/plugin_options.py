"""The pytest plugin's options (one table) and their check at configure time, before any build or boot: a bad
value is one ``ERROR: --option …`` line from pytest (exit status 4, pytest's usage error), not an error in every
device test after the firmware was built.

Numbers are always checked; files, boards, the model, the history store and the baseline when a device session
will use them (``--board`` given) or when the option was given explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, UsageError

ROOT = Path(__file__).resolve().parents[1]
GROUP = ("harness", "harness: firmware-in-the-loop device tests")  # name, title in `pytest --help`
DEFAULT_MODEL = str(ROOT / "fixtures" / "models" / "default.npz")
DEFAULT_FIXTURES = str(ROOT / "fixtures")

# name, argparse keywords; the help says the default
OPTIONS = (
    ("--board", {"action": "append", "default": [], "metavar": "BOARD",
                 "help": "board to run device tests on: a boards.yaml name (qemu-stm32f405, renode-stm32f4), "
                         "NAME@/dev/ttyACM0 for a real board, or /dev/ttyACM0; repeat for a pool of boards. "
                         "Default: none (device tests are skipped)"}),
    ("--boards-file", {"default": None, "metavar": "PATH", "help": "board profiles. Default: boards.yaml"}),
    ("--model", {"default": DEFAULT_MODEL, "metavar": "PATH",
                 "help": "model file (.npz). Default: fixtures/models/default.npz"}),
    ("--fixtures-dir", {"default": DEFAULT_FIXTURES, "metavar": "DIR",
                        "help": "labelled images (scenes/, photos/); not --fixtures, which is pytest's own. "
                                "Default: the repository's fixtures/"}),
    ("--baud", {"type": int, "default": None, "help": "serial baud rate of a real board. Default: boards.yaml"}),
    ("--boot-timeout", {"type": float, "default": None, "metavar": "S",
                        "help": "seconds for the firmware to answer after start or reset. Default: boards.yaml"}),
    ("--inference-timeout", {"type": float, "default": None, "metavar": "S",
                             "help": "seconds for one inference. Default: boards.yaml"}),
    ("--portable", {"action": "store_true", "help": "build the portable C kernels (no DSP instructions)"}),
    ("--latency-margin", {"type": float, "default": 0.10, "metavar": "FRACTION",
                          "help": "fail a layer slower than its calibrated prediction by more than this; a negative "
                                  "FRACTION (above -1) demands faster than predicted. Default: 0.10"}),
    ("--pyocd-pack", {"default": None, "metavar": "PATH",
                      "help": "CMSIS pack for a pyOCD target that is not built in. Default: boards.yaml"}),
    ("--probe", {"default": None, "metavar": "ID",
                 "help": "a real board's debug probe unique id (`pyocd list`) when its serial port is not the "
                         "probe's virtual COM port; with several --board give each its own ,probe=ID. "
                         "Default: boards.yaml probe:, else the probe with the port's USB serial number"}),
    ("--allow-clock-fallback", {"action": "store_true",
                                "help": "run on a board whose clock differs from its profile (an HSE or PLL that "
                                        "did not start); its runs are recorded under their own board key and "
                                        "never gated. Default: such a board fails the handshake"}),
    ("--repeats", {"type": int, "default": None, "metavar": "N",
                   "help": "runs per image, so noisy latency has a median and a spread. Default: 1 on emulators "
                           "(their instruction counts are exact), 3 on real boards"}),
    ("--history", {"default": None, "metavar": "PATH|URL",
                   "help": "history store the session's run is recorded in: a SQLite file or postgresql://… "
                           "Default: .harness/history.sqlite"}),
    ("--no-history", {"action": "store_true", "help": "do not record the run"}),
    ("--baseline", {"default": "auto", "metavar": "SPEC",
                    "help": "gate the run against: auto (the committed fixtures/baselines/<board>/<model>.json "
                            "when there is one), file (that file, required), none, a baseline .json, or a git ref "
                            "whose latest recorded run is the baseline. Thresholds: pyproject.toml "
                            "[tool.harness.thresholds]. Default: auto"}),
)


@dataclass(frozen=True)
class Checked:
    """What the check loaded, for the session to reuse (None when no device session will run)."""
    choices: tuple = ()       # harness.dut.BoardChoice per --board
    model: object = None      # harness.model.modelfile.Model
    fixtures: tuple = ()      # harness.scenes.fixtures.Labelled per image of --fixtures-dir


def check_options(config) -> Checked:
    """UsageError (or another HarnessError), its message starting with the option, for the first bad value."""
    get = config.getoption
    _check_numbers(get)
    device = bool(get("board"))
    if get("boards_file") is not None:
        from harness.boards import load_boards

        _named("--boards-file", load_boards, get("boards_file"))
    model = None
    if device or get("model") != DEFAULT_MODEL:
        from harness.model.modelfile import load

        model = _named("--model", load, get("model"))
    fixtures = ()
    if device or get("fixtures_dir") != DEFAULT_FIXTURES:
        from harness.scenes.fixtures import load as load_fixtures

        fixtures = tuple(_named("--fixtures-dir", load_fixtures, Path(get("fixtures_dir"))))
    if not device:
        return Checked((), model, fixtures)
    choices = tuple(board_choices(config))
    _check_packs(choices, get("pyocd_pack"))
    _check_history(config, choices)
    return Checked(choices, model, fixtures)


def _check_numbers(get) -> None:
    repeats, baud, margin = get("repeats"), get("baud"), get("latency_margin")
    if repeats is not None and repeats < 1:
        raise UsageError(f"--repeats {repeats}: give at least 1 run per image")
    if baud is not None and baud <= 0:
        raise UsageError(f"--baud {baud}: give a positive baud rate (e.g. 115200)")
    for name in ("boot_timeout", "inference_timeout"):
        value = get(name)
        if value is not None and not (math.isfinite(value) and value > 0):
            raise UsageError(f"--{name.replace('_', '-')} {value:g}: give a positive number of seconds")
    if not (math.isfinite(margin) and margin > -1):
        raise UsageError(f"--latency-margin {margin:g}: give a fraction above -1 (0.10 allows 10 % over the "
                         f"prediction; -1 or less would allow no time at all)")


def _named(option: str, fn, *args, **kwargs):
    """``fn(*args, **kwargs)``, its HarnessError's message prefixed with the option it is about."""
    try:
        return fn(*args, **kwargs)
    except HarnessError as exc:
        raise type(exc)(f"{option}: {exc}") from exc


def board_choices(config) -> list:
    """One harness.dut.BoardChoice per --board, with the --boot-timeout/--inference-timeout overrides."""
    from harness.dut import parse_board

    specs, probe = config.getoption("board"), config.getoption("probe")
    if probe and len(specs) > 1:
        raise UsageError("--probe names one board's probe; with several --board give each its own "
                         ",probe=ID (e.g. --board=stm32f4-discovery@/dev/ttyUSB0,probe=066DFF…)")
    return [_named(f"--board={spec}", parse_board, spec, config.getoption("boards_file"), probe).with_timeouts(
        config.getoption("boot_timeout"), config.getoption("inference_timeout")) for spec in specs]


def _check_packs(choices, pack: str | None) -> None:
    for choice in choices:
        path = pack or choice.board.settings.get("pack")
        if choice.board.on_serial_port and path:
            from harness.targets.pyocd_target import require_pack

            _named("--pyocd-pack", require_pack, path, choice.board.settings["pyocd_target"])


def _check_history(config, choices) -> None:
    """The store the run will be written to (or read for a git-ref baseline), and the baseline itself."""
    from harness.history.baseline import baseline_path, read_baseline
    from harness.history.provenance import commits_of, git_root
    from harness.history.store import check_store

    get = config.getoption
    record, spec = not get("no_history"), get("baseline") or "auto"
    if record:
        _named("--history", check_store, get("history"), write=True)
    if spec in ("auto", "none"):
        return
    if spec == "file":
        root = git_root(config.invocation_params.dir) or config.invocation_params.dir
        model = Path(get("model")).stem
        for choice in choices:
            _named("--baseline=file", read_baseline, baseline_path(choice.board.name, model,
                                                                   root / "fixtures" / "baselines"))
        return
    if spec.endswith(".json") or Path(spec).is_file():
        if not Path(spec).is_file():
            raise UsageError(f"--baseline {spec}: no such baseline file")
        _named("--baseline", read_baseline, Path(spec))
        return
    if commits_of(spec, config.invocation_params.dir, limit=1) is None:
        raise UsageError(f"--baseline {spec}: neither auto, file, none, a baseline .json nor a git ref here")
    if not record:
        raise UsageError(f"--baseline {spec} is a git ref, which needs the history: drop --no-history")
    # recording checked the store for writing, which covers reading the ref's runs
