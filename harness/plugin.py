"""The pytest plugin (entry point ``pytest11: harness``): ``pytest --board=qemu-stm32f405`` runs the tests marked
``device`` on that board; without ``--board`` they are skipped, with the reason.

Fixtures (thin: the work is in harness.dut, harness.compare.device and harness.compare.latency):
  ``dut``             the board, built, started or flashed and handshaken once per session (per xdist worker),
                      resynchronised before each test; ``dut.run(image)`` → RunReport
  ``reference``       the fixed-point reference of the same model: ``reference.check(image, report)``
  ``labelled_image``  parametrises a test over every labelled image of ``--fixtures``
  ``record_device_run``  puts a run's latency and memory into junit properties and the terminal summary
Several ``--board`` values form a pool of real boards (one lock per board; each xdist worker takes a free one).

Each session's device runs become one run in the history store (``--history``, ``--no-history``), gated against
its baseline (``--baseline``); a regression fails the session with a table (harness.history).
"""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

# name, argparse keywords; the help says the default
OPTIONS = (
    ("--board", {"action": "append", "default": [], "metavar": "BOARD",
                 "help": "board to run device tests on: a boards.yaml name (qemu-stm32f405, renode-stm32f4), "
                         "NAME@/dev/ttyACM0 for a real board, or /dev/ttyACM0; repeat for a pool of boards. "
                         "Default: none (device tests are skipped)"}),
    ("--boards-file", {"default": None, "metavar": "PATH", "help": "board profiles. Default: boards.yaml"}),
    ("--model", {"default": str(ROOT / "fixtures" / "models" / "default.npz"), "metavar": "PATH",
                 "help": "model file (.npz). Default: fixtures/models/default.npz"}),
    ("--fixtures-dir", {"default": str(ROOT / "fixtures"), "metavar": "DIR",
                    "help": "labelled images (scenes/, photos/); not --fixtures, which is pytest's own. "
                            "Default: the repository's fixtures/"}),
    ("--baud", {"type": int, "default": None, "help": "serial baud rate of a real board. Default: boards.yaml"}),
    ("--boot-timeout", {"type": float, "default": None, "metavar": "S",
                        "help": "seconds for the firmware to answer after start or reset. Default: boards.yaml"}),
    ("--inference-timeout", {"type": float, "default": None, "metavar": "S",
                             "help": "seconds for one inference. Default: boards.yaml"}),
    ("--portable", {"action": "store_true", "help": "build the portable C kernels (no DSP instructions)"}),
    ("--latency-margin", {"type": float, "default": 0.10, "metavar": "FRACTION",
                          "help": "fail a layer slower than its calibrated prediction by more than this. "
                                  "Default: 0.10"}),
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

SKIP_REASON = ("device test: needs --board (e.g. pytest --board=qemu-stm32f405, or "
               "--board=nucleo-f429zi@/dev/ttyACM0 on the bench)")
PROPERTY_PREFIX = "harness."


def pytest_addoption(parser):
    group = parser.getgroup("harness", "firmware-in-the-loop test harness")
    for name, kwargs in OPTIONS:
        group.addoption(name, **kwargs)


def pytest_configure(config):
    config.addinivalue_line("markers", "device: runs on the board given with --board; skipped without one")
    if not hasattr(config, "workerinput"):  # the xdist controller or a plain run prints the summary and records
        # Registered first, printed last: the gate's verdict ends the terminal summary.
        config.pluginmanager.register(HistoryRecorder(config), "harness-history")
        config.pluginmanager.register(RunSummary(), "harness-run-summary")


def pytest_collection_modifyitems(config, items):
    if config.getoption("board"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "device" in item.keywords:
            item.add_marker(skip)


def pytest_generate_tests(metafunc):
    if "labelled_image" in metafunc.fixturenames:
        from harness.errors import HarnessError
        from harness.scenes.fixtures import load

        try:
            images = load(Path(metafunc.config.getoption("fixtures_dir")))
        except HarnessError as exc:
            raise pytest.UsageError(f"--fixtures-dir: {exc}") from exc
        metafunc.parametrize("labelled_image", images, ids=[i.name for i in images])


# ---- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def harness_model(pytestconfig):
    from harness.model.modelfile import load

    return load(pytestconfig.getoption("model"))


def _choices(config):
    from harness.dut import parse_board

    specs, probe = config.getoption("board"), config.getoption("probe")
    if probe and len(specs) > 1:
        raise pytest.UsageError("--probe names one board's probe; with several --board give each its own "
                                ",probe=ID (e.g. --board=stm32f4-discovery@/dev/ttyUSB0,probe=066DFF…)")
    return [parse_board(spec, config.getoption("boards_file"), probe).with_timeouts(
        config.getoption("boot_timeout"), config.getoption("inference_timeout")) for spec in specs]


@pytest.fixture(scope="session")
def harness_dut(pytestconfig, harness_model):
    from harness.dut import Dut, worker_index
    from harness.errors import HarnessError
    from harness.progress import Progress
    from harness.targets.pool import acquire

    if not pytestconfig.getoption("board"):
        pytest.skip(SKIP_REASON)
    try:
        choice, lock = acquire(_choices(pytestconfig), worker_index())
    except HarnessError as exc:
        pytest.exit(str(exc), returncode=2)
    options = {"pack": pytestconfig.getoption("pyocd_pack")} if choice.board.backend == "pyocd" else {}
    dut = Dut(choice, harness_model, dsp=not pytestconfig.getoption("portable"),
              baud=pytestconfig.getoption("baud"), progress=Progress(quiet=pytestconfig.getoption("verbose") < 1),
              target_options={k: v for k, v in options.items() if v is not None},
              allow_clock_fallback=pytestconfig.getoption("allow_clock_fallback"))
    try:
        dut.start()
    except HarnessError as exc:
        lock.release()
        pytest.exit(f"{choice}: {exc}", returncode=2)
    try:
        yield dut
    finally:
        dut.close()
        lock.release()


@pytest.fixture
def dut(harness_dut):
    harness_dut.resync()
    return harness_dut


@pytest.fixture(scope="session")
def reference(harness_model):
    from harness.build.firmware import CACHE
    from harness.codegen.generate import generate
    from harness.compare.device import Reference

    return Reference(harness_model, generate(harness_model, CACHE / "generated" / harness_model.model_id))


@pytest.fixture(scope="session")
def latency_budget(pytestconfig, harness_dut, harness_model):
    """Per-layer predicted latency from the board's calibration; ``latency_budget.over(report)`` names the layers
    slower than predicted by more than ``--latency-margin``."""
    from harness.compare.device import latency_budget as budget

    return budget(harness_dut.board.name, harness_model, harness_dut.dsp, pytestconfig.getoption("latency_margin"))


def _repeats(config, dut) -> int:
    n = config.getoption("repeats")
    if n is not None and n < 1:
        raise pytest.UsageError(f"--repeats {n}: give at least 1")
    return n or (3 if dut.board.physical else 1)


@pytest.fixture
def record_device_run(request, record_property, harness_dut, reference, pytestconfig):
    """record(report[, budget][, image=, name=]): latency (total and per layer) and memory as junit properties
    and summary rows, and the fixture's result for the history (``image``/``name`` default to the test's
    ``labelled_image``). With --repeats N the image is run N − 1 more times for the latency samples."""
    def record(report, budget=None, image=None, name=None):
        _junit(report, budget)
        item = request.node.funcargs.get("labelled_image")
        if image is None and item is not None:
            image, name = item.image(), item.name
        if image is None:
            return
        from harness.history.collect import fixture_result, run_context

        repeats = _repeats(pytestconfig, harness_dut)
        reports = [report] + [harness_dut.run(image) for _ in range(repeats - 1)]
        result = fixture_result(name or request.node.name, reference, image, reports)
        model_name = Path(pytestconfig.getoption("model")).stem
        record_property(PROPERTY_PREFIX + "run", json.dumps(run_context(harness_dut, model_name, repeats)))
        record_property(PROPERTY_PREFIX + "fixture", json.dumps(dataclasses.asdict(result)))

    def _junit(report, budget):
        predicted = budget.predicted if budget is not None else None
        latency = harness_dut.latency(report)
        props = {"board": str(harness_dut.choice), "runs_on": harness_dut.target.describe(), "unit": latency["unit"],
                 "latency": latency["total"], "stack_bytes": report.stack_bytes,
                 "arena_bytes": report.arena_bytes, "ram_bytes": harness_dut.build.info["ram_bytes"],
                 "flash_bytes": harness_dut.build.info["flash_bytes"]}
        if "ms" in latency:
            props["latency_ms"] = latency["ms"]
        for name, ticks in latency["layers"].items():
            props[f"layer.{name}"] = ticks
            if predicted and name in predicted:
                props[f"predicted.{name}"] = predicted[name]
        if budget is not None and budget.why_not:
            props["latency_prediction"] = budget.why_not
        for key, value in props.items():
            record_property(PROPERTY_PREFIX + key, value)

    return record


# ---- terminal summary -------------------------------------------------------------------------------------------

class RunSummary:
    """Collects the recorded runs (from xdist workers too: user properties travel with the reports) and prints
    them at the end of the session."""

    def __init__(self):
        self.rows: list[tuple[str, dict]] = []

    def pytest_runtest_logreport(self, report):
        if report.when == "call":
            props = {k[len(PROPERTY_PREFIX):]: v for k, v in report.user_properties if k.startswith(PROPERTY_PREFIX)}
            if "latency" in props:
                self.rows.append((report.nodeid, props))

    def pytest_terminal_summary(self, terminalreporter):
        from harness.compare.summary import summary_lines

        if self.rows:
            terminalreporter.section("harness: latency and memory per run")
            for line in summary_lines(self.rows):
                terminalreporter.write_line(line)


class HistoryRecorder:
    """In the controller: gathers the fixtures' results (xdist workers send them as user properties), and at the
    end records the session as one run (one transaction: a killed session records nothing) and gates it."""

    def __init__(self, config):
        self.config = config
        self.context: dict | None = None
        self.fixtures: list[dict] = []
        self.outcome = None

    def pytest_runtest_logreport(self, report):
        props = dict(report.user_properties)
        if report.when == "call" and PROPERTY_PREFIX + "fixture" in props:
            self.context = json.loads(props[PROPERTY_PREFIX + "run"])
            self.fixtures.append(json.loads(props[PROPERTY_PREFIX + "fixture"]))

    @pytest.hookimpl(tryfirst=True)
    def pytest_sessionfinish(self, session, exitstatus):
        if not self.fixtures or exitstatus == pytest.ExitCode.INTERRUPTED:
            return
        from harness.history.collect import session_run
        from harness.history.provenance import git_root
        from harness.history.recording import finish

        cfg = self.config
        # The project is where pytest was started (its git work tree): pytest's rootdir moves to a common
        # ancestor when option values are paths, so it cannot say which commit is being measured.
        root = git_root(cfg.invocation_params.dir) or cfg.invocation_params.dir
        run = session_run(self.context, self.fixtures, root, Path(cfg.getoption("fixtures_dir")),
                          cfg.getoption("model"))
        pyproject = root / "pyproject.toml"
        self.outcome = finish(run, cfg.getoption("history"), not cfg.getoption("no_history"),
                              cfg.getoption("baseline"), pyproject if pyproject.is_file() else None,
                              root / "fixtures" / "baselines")
        if self.outcome.regressed or (self.outcome.problems and exitstatus == pytest.ExitCode.OK):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        from harness.history.recording import outcome_lines

        if self.outcome is not None:
            terminalreporter.section("harness: history and regression gate",
                                     red=self.outcome.regressed or bool(self.outcome.problems))
            for line in outcome_lines(self.outcome):
                terminalreporter.write_line(line)
