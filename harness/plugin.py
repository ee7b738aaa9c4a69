"""The pytest plugin (entry point ``pytest11: harness``): ``pytest --board=qemu-stm32f405`` runs the tests marked
``device`` on that board; without ``--board`` they are skipped, with the reason.

Fixtures (thin: the work is in harness.dut, harness.compare.device and harness.latency):
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

import contextlib
import dataclasses
import json
from pathlib import Path

import pytest

from harness.plugin_options import GROUP, OPTIONS, Checked, board_choices, check_options

CHECKED = pytest.StashKey[Checked]()
DEVICE_TESTS = pytest.StashKey[int]()  # how many device tests this process collected

SKIP_REASON = ("device test: needs --board (e.g. pytest --board=qemu-stm32f405, or "
               "--board=nucleo-f429zi@/dev/ttyACM0 on the bench)")
PROPERTY_PREFIX = "harness."


def pytest_addoption(parser, pluginmanager):
    group = parser.getgroup(*GROUP)
    for name, kwargs in OPTIONS:
        group.addoption(name, **kwargs)
    if not _labgrid_plugin_loads(pluginmanager):  # labgrid's own plugin defines --lg-coordinator, as users know it
        group.addoption("--lg-coordinator", dest="lg_coordinator", metavar="HOST:PORT",
                        help="the labgrid coordinator of --board=labgrid:…. Default: LG_COORDINATOR, else "
                             "127.0.0.1:20408")


def _labgrid_plugin_loads(pluginmanager) -> bool:
    """Whether labgrid's pytest plugin is (or will be) loaded: installed (the [farm] extra) and not blocked with
    ``-p no:labgrid``, as this project's own test runs do (its import costs every pytest process 1.7 s)."""
    if pluginmanager.is_blocked("labgrid"):
        return False
    from importlib import metadata

    try:
        metadata.distribution("labgrid")
    except metadata.PackageNotFoundError:
        return False
    return True


def pytest_configure(config):
    config.addinivalue_line("markers", "device: runs on the board given with --board; skipped without one")
    # pyserial's RFC 2217 client (a farm's ser2net ports) still calls Thread.setDaemon/setName
    for old_api in ("setDaemon", "setName"):
        config.addinivalue_line("filterwarnings", rf"ignore:{old_api}\(\) is deprecated:DeprecationWarning:serial")
    if hasattr(config, "workerinput") or config.getoption("help", False):
        return  # xdist workers get options the controller has checked
    from harness.errors import HarnessError

    try:  # before any build or boot: one "ERROR: --option …" line, exit status 4
        config.stash[CHECKED] = check_options(config)
    except HarnessError as exc:
        raise pytest.UsageError(str(exc)) from None
    # The xdist controller or a plain run prints the summary and records.
    # Registered first, printed last: the gate's verdict ends the terminal summary.
    config.pluginmanager.register(HistoryRecorder(config), "harness-history")
    config.pluginmanager.register(RunSummary(), "harness-run-summary")
    if config.getoption("board"):
        config.pluginmanager.register(DeviceProgress(config), "harness-progress")


def pytest_collection_modifyitems(config, items):
    if config.getoption("board"):
        return
    skip = pytest.mark.skip(reason=SKIP_REASON)
    for item in items:
        if "device" in item.keywords:
            item.add_marker(skip)


def pytest_generate_tests(metafunc):
    if "labelled_image" in metafunc.fixturenames:
        checked = metafunc.config.stash.get(CHECKED, None)
        images = list(checked.fixtures) if checked is not None and checked.fixtures else _labelled(metafunc.config)
        metafunc.parametrize("labelled_image", images, ids=[i.name for i in images])


def _labelled(config):
    from harness.errors import HarnessError
    from harness.scenes.fixtures import load

    try:
        return load(Path(config.getoption("fixtures_dir")))
    except HarnessError as exc:
        raise pytest.UsageError(f"--fixtures-dir: {exc}") from exc


def pytest_collection_finish(session):
    session.config.stash[DEVICE_TESTS] = sum("device" in item.keywords for item in session.items)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """A device test's reports carry the number of device tests: xdist sends report attributes to the controller,
    whose progress line needs the total (it collects nothing itself)."""
    report = yield
    total = item.config.stash.get(DEVICE_TESTS, 0)
    if total and item.config.getoption("board") and "device" in item.keywords:
        report.harness_device_tests = total
    if call.excinfo is not None and call.excinfo.errisinstance(_farm_error()):
        # the farm failed (a place taken away, its port or the coordinator gone): infrastructure, said in one
        # line, and the session stops rather than every later test failing the same way
        report.longrepr = f"{item.config.getoption('board')[0]}: {call.excinfo.value}"
        item.session.shouldstop = report.longrepr
    return report


def _farm_error():
    from harness.errors import FarmError

    return FarmError


# ---- fixtures ---------------------------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def harness_model(pytestconfig):
    checked = pytestconfig.stash.get(CHECKED, None)
    if checked is not None and checked.model is not None:
        return checked.model
    from harness.model.modelfile import load

    return load(pytestconfig.getoption("model"))


@pytest.fixture(scope="session")
def harness_dut(request, pytestconfig, harness_model):
    from harness.dut import Dut, worker_index
    from harness.errors import HarnessError
    from harness.progress import Progress
    from harness.targets.pool import acquire

    if not pytestconfig.getoption("board"):
        pytest.skip(SKIP_REASON)
    checked = pytestconfig.stash.get(CHECKED, None)
    try:  # an xdist worker parses the --board values again (the controller checked them)
        choices = checked.choices if checked is not None and checked.choices else board_choices(pytestconfig)
        choice, lock = acquire(choices, worker_index())
    except HarnessError as exc:
        _stop(request, str(exc))
    options = {"pack": pytestconfig.getoption("pyocd_pack")} if choice.board.on_serial_port else {}
    dut = Dut(choice, harness_model, dsp=not pytestconfig.getoption("portable"),
              baud=pytestconfig.getoption("baud"), codec=pytestconfig.getoption("codec"),
              stream=not pytestconfig.getoption("no_stream"),
              progress=Progress(quiet=pytestconfig.getoption("verbose") < 1),
              target_options={k: v for k, v in options.items() if v is not None},
              allow_clock_fallback=pytestconfig.getoption("allow_clock_fallback"))
    capture = pytestconfig.pluginmanager.getplugin("capturemanager")
    live = capture.global_and_fixture_disabled() if capture is not None else contextlib.nullcontext()
    try:
        with live:  # building, flashing, waiting for a farm place: said as it happens, not after the test
            dut.start()
    except HarnessError as exc:
        lock.release()
        _stop(request, f"{choice}: {exc}")
    try:
        yield dut
    finally:
        dut.close()
        lock.release()


def _stop(request, message: str):
    """The board cannot be used: this test errors with ``message`` alone (no traceback) and the session stops
    after it (pytest prints ``Interrupted: message``; with xdist each worker's first test says it once), rather
    than every device test failing the same way."""
    request.session.shouldstop = message
    try:
        pytest.fail(message, pytrace=False)
    except pytest.fail.Exception as failed:  # called in an except block: not the error it handles above the line
        raise failed from None


@pytest.fixture
def dut(request, harness_dut):
    from harness.errors import FarmError

    try:
        harness_dut.check_target()
        harness_dut.resync()
    except FarmError as exc:  # the place was taken away, its port or the coordinator is gone: one line, and stop
        why = str(exc)
        try:
            harness_dut.check_target()  # a lost place is the reason a port of the farm closed
        except FarmError as lost:
            why = str(lost)
        _stop(request, f"{harness_dut.choice}: {why}")
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
    n = config.getoption("repeats")  # checked at configure: None or at least 1
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
        harness_dut.check_target()  # results only from the board this session holds (a farm's place)
        result = fixture_result(name or request.node.name, reference, image, reports,
                                harness_dut.target.properties())
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
        props.update({f"farm.{k}": v for k, v in harness_dut.target.properties().items()})
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


class DeviceProgress:
    """In the controller: after each device test, ``harness: 3/37 device tests done, about 4 min left`` (also under
    -q; nothing under -qq)."""

    def __init__(self, config):
        self.config = config
        self.eta = None

    def pytest_runtest_logreport(self, report):
        from harness.progress import Eta

        total = getattr(report, "harness_device_tests", 0)
        if report.when != "teardown" or not total or self.config.getoption("verbose") < -1:
            return
        self.eta = self.eta or Eta(total)
        writer = self.config.pluginmanager.get_plugin("terminalreporter")
        line = "harness: " + self.eta.step().replace(" done", " device tests done", 1)
        if writer is not None:
            _own_line(writer, line)


def _own_line(writer, line: str) -> None:
    """``line`` on a line of its own between pytest's: after -q's dots or -v's result, and without a blank line
    before the next file name or test name (pytest ends the open line itself when ``currentfspath`` is set)."""
    pytest_ends_lines = bool(writer.currentfspath)  # else (-q, xdist) dots would follow on this line
    writer.ensure_newline()
    tw = writer._tw
    if tw.width_of_current_line:
        tw.line()
    if pytest_ends_lines:
        tw.write(line)
        writer.currentfspath = -2
    else:
        tw.line(line)


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
        from harness.history.recording import finish
        from harness.project import workspace

        cfg = self.config
        # The workspace is where pytest was started (its git work tree): pytest's rootdir moves to a common
        # ancestor when option values are paths, so it cannot say which commit is being measured.
        where = workspace(cfg.invocation_params.dir)
        run = session_run(self.context, self.fixtures, where.root, Path(cfg.getoption("fixtures_dir")),
                          cfg.getoption("model"))
        self.outcome = finish(run, cfg.getoption("history"), not cfg.getoption("no_history"),
                              cfg.getoption("baseline"), where.pyproject if where.pyproject.is_file() else None,
                              where.baselines)
        if self.outcome.regressed or (self.outcome.problems and exitstatus == pytest.ExitCode.OK):
            session.exitstatus = pytest.ExitCode.TESTS_FAILED

    def pytest_terminal_summary(self, terminalreporter):
        from harness.history.recording import outcome_lines

        if self.outcome is not None:
            terminalreporter.section("harness: history and regression gate",
                                     red=self.outcome.regressed or bool(self.outcome.problems))
            for line in outcome_lines(self.outcome):
                terminalreporter.write_line(line)
