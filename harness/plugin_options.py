"""The pytest plugin's options (from the table it shares with the CLI, harness/options.py) and their check at
configure time, before any build or boot: a bad value is one ``ERROR: --option …`` line from pytest (exit status 4,
pytest's usage error), not an error in every device test after the firmware was built.

Numbers are always checked; files, boards, the model, the history store and the baseline when a device session
will use them (``--board`` given) or when the option was given explicitly.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

from harness.errors import HarnessError, UsageError
from harness.options import DEFAULT_FIXTURES, DEFAULT_MODEL, model_name, pytest_options, read_model

GROUP = ("harness", "harness: firmware-in-the-loop device tests")  # name, title in `pytest --help`

# From the table shared with the CLI (harness/options.py); the changes are the plugin's own.
OPTIONS = pytest_options(
    ("--board", {"repeat": True, "default": [], "note": "repeat for a pool of boards",
                 "says_default": "none (device tests are skipped)"}),
    "--boards-file", "--model", ("--fixtures-dir", {"note": "not --fixtures, which is pytest's own"}),
    ("--baud", {"type": int}),  # checked in check_options: one "ERROR: --baud …" line, not argparse's usage
    ("--codec", {"type": None}),  # checked in check_options, like --baud
    "--no-stream",
    "--boot-timeout", "--inference-timeout", "--portable", "--latency-margin", "--pyocd-pack",
    ("--probe", {"note": "with several --board give each its own ,probe=ID"}),
    "--allow-clock-fallback", "--repeats", "--farm-lease", "--farm-wait", "--history", "--no-history", "--baseline",
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
        model = _named("--model", read_model, get("model"))
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
    from harness.protocol.session import CODECS

    if get("codec") not in CODECS:
        raise UsageError(f"--codec {get('codec')}: not a codec (one of: {', '.join(CODECS)})")
    for name in ("boot_timeout", "inference_timeout", "farm_lease", "farm_wait"):
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
    # --lg-coordinator is labgrid's own pytest option (present when the [farm] extra is installed)
    coordinator = config.getoption("lg_coordinator", None)
    return [_named(f"--board={spec}", parse_board, spec, config.getoption("boards_file"), probe,
                   coordinator).with_timeouts(
        config.getoption("boot_timeout"), config.getoption("inference_timeout")).with_farm_times(
        config.getoption("farm_lease"), config.getoption("farm_wait")) for spec in specs]


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
        model = model_name(get("model"))
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
