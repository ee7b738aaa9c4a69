"""Bad inputs, one line each (issue 14 §2): a catalogue of command lines a person gets wrong, each with the exit
status and the single stderr line it must give.

For every case: no traceback, exactly one line on stderr, and nothing created or changed in the working folder (a
refused command leaves nothing behind; read commands never create a store). Commands that would build firmware or
start a board must refuse before any build: building or opening a target fails the test, and the refusal must come
within ``BEFORE_BUILD_S``. QEMU never runs here.
"""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from contextlib import closing
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from harness.cli import main
from harness.history.store import open_store
from harness.model.modelfile import save
from harness.model.random_init import random_model
from tests.harness.history.store_writer import make_run

ROOT = Path(__file__).resolve().parents[2]
SCENE = str(ROOT / "fixtures" / "scenes" / "scene-009.png")
MODEL = ROOT / "fixtures" / "models" / "default.npz"
BEFORE_BUILD_S = 2.0
NO_PORT = "/dev/ttyHARNESS-NO-SUCH-PORT"
# Single-bit flips of default.npz (byte offset, mask) that used to give tracebacks: zlib.error inside the zip,
# tokenize.TokenError in NumPy's .npy header parser and NotImplementedError from zipfile (a compression method, in
# rnn1.bh's central directory record). They move when the file changes: test_each_flip_still_hits_its_error.
FLIPS = {"zlib": (28, 0x04), "token": (5733, 0x04), "header": (294369, 0x04)}
FLIP_ERRORS = {"zlib": "error", "token": "TokenError", "header": "NotImplementedError"}
SLOW_TOOLS = ("qemu", "renode")


@dataclass(frozen=True)
class Case:
    id: str
    argv: tuple[str, ...]
    status: int
    line: str                  # regex searched in the one stderr line
    device: bool = False       # would build and boot: must refuse before that
    env: dict = field(default_factory=dict)

    def __str__(self) -> str:
        return self.id


def case(id_: str, status: int, line: str, *argv: str, device: bool = False, path: str | None = None) -> Case:
    return Case(id_, argv, status, line, device, {"PATH": path} if path is not None else {})


def detect(id_: str, line: str, *argv: str, status: int = 2, path: str | None = None) -> Case:
    return case(id_, status, line, "detect", SCENE, *argv, device=True, path=path)


CASES = [
    # --- history: read commands --------------------------------------------------------------------------------
    case("history-limit-negative", 2, r"argument --limit: -1 is too small: at least 1",
         "history", "--limit", "-1", "--history", "runs.sqlite"),
    case("history-limit-not-a-number", 2, r"argument --limit: 'many' is not a whole number",
         "history", "--limit", "many", "--history", "runs.sqlite"),
    case("farm-list-no-coordinator", 2, r"cannot connect to the labgrid coordinator at 127\.0\.0\.1:1: .*start one "
         r"with `labgrid-coordinator -l 127\.0\.0\.1:1`", "farm", "list", "--lg-coordinator", "127.0.0.1:1"),
    case("farm-agent-bad-listen", 2, r"--listen nonsense: give HOST:PORT", "farm", "agent", "--listen", "nonsense"),
    case("history-newer-store", 2, r"newer\.sqlite was written by a newer harness \(schema 99.*upgrade harness",
         "history", "--history", "newer.sqlite"),
    case("history-truncated-store", 2, r"truncated\.sqlite is (corrupt|damaged).*restore it from a backup",
         "history", "--history", "truncated.sqlite"),
    case("history-folder-as-store", 2, r"afolder is a folder, not a SQLite file: pass another --history PATH",
         "history", "--history", "afolder"),
    case("history-text-file-as-store", 2, r"notes\.txt is not a harness history \(SQLite\) file",
         "history", "--history", "notes.txt"),
    case("history-unknown-board", 2, r"no recorded runs for nosuch/\* in runs\.sqlite; it has runs of "
         r"qemu-stm32f405/rnnpool-face: choose with --board", "history", "--history", "runs.sqlite", "--board",
         "nosuch"),
    case("history-postgres-unreachable", 2, r"cannot reach PostgreSQL at postgresql://harness@127\.0\.0\.1:1/h "
         r"\(.*\): start the server", "history", "--history", "postgresql://harness:pw@127.0.0.1:1/h"),
    case("report-limit-negative", 2, r"argument --limit: -3 is too small",
         "report", "-o", "r.html", "--limit", "-3", "--history", "runs.sqlite"),
    case("report-output-not-html", 2, r"-o r\.txt: give a file name ending in \.html",
         "report", "-o", "r.txt", "--history", "runs.sqlite"),
    case("report-output-unwritable", 2, r"-o /proc/r\.html cannot be written",
         "report", "-o", "/proc/r.html", "--history", "runs.sqlite"),
    case("compare-missing-baseline-file", 2, r"^(?!.*--board some).*no baseline file some/dir/x\.json: check the "
         r"path", "compare", "some/dir/x.json", "#1", "--history", "runs.sqlite"),
    case("compare-no-such-run", 2, r"no run 99 in the history at runs\.sqlite",
         "compare", "#99", "#1", "--history", "runs.sqlite"),
    case("regressions-not-a-range", 2, r"'nosuch\.\.range' is not a commit range",
         "regressions", "nosuch..range", "--history", "runs.sqlite"),
    case("baseline-update-unwritable", 2, r"-o /proc/b\.json cannot be written",
         "baseline", "update", "--history", "runs.sqlite", "-o", "/proc/b.json"),
    case("baseline-update-run-zero", 2, r"argument --run: 0 is too small",
         "baseline", "update", "--history", "runs.sqlite", "--run", "0", "-o", "b.json"),
    # --- detect: everything checked before the firmware is built ---------------------------------------------
    case("detect-folder-as-image", 2, r"afolder.* (directory|folder)", "detect", "afolder", device=True),
    case("detect-missing-image", 2, r"image nope\.png not found", "detect", "nope.png", device=True),
    detect("detect-empty-board", r"--board='' names no board: pass a boards\.yaml name \(.*qemu-stm32f405",
           "--board="),
    detect("detect-board-only-at", r"--board='@' names no board", "--board=@"),
    detect("detect-baud-zero", r"argument --baud: 0 is not a baud rate", "--baud", "0"),
    detect("detect-baud-negative", r"argument --baud: -9600 is not a baud rate", "--baud", "-9600"),
    detect("detect-baud-not-a-number", r"argument --baud: 'fast' is not a whole number", "--baud", "fast"),
    detect("detect-output-not-a-picture", r"-o out\.txt: OpenCV writes no such picture format; use a \.png",
           "-o", "out.txt"),
    detect("detect-output-folder", r"-o afolder is a folder", "-o", "afolder"),
    detect("detect-output-unwritable", r"-o /proc/out\.png cannot be written", "-o", "/proc/out.png"),
    detect("detect-history-unwritable", r"the history /proc/h\.sqlite cannot be written.*pass another --history",
           "--history", "/proc/h.sqlite"),
    detect("detect-history-under-a-file", r"notes\.txt is a file, not a folder", "--history", "notes.txt/h.sqlite"),
    detect("detect-history-newer", r"newer\.sqlite was written by a newer harness", "--history", "newer.sqlite"),
    detect("detect-history-truncated", r"truncated\.sqlite is (corrupt|damaged)", "--history", "truncated.sqlite"),
    detect("detect-history-not-sqlite", r"notes\.txt is not a harness history", "--history", "notes.txt"),
    detect("detect-history-postgres-unreachable", r"cannot reach PostgreSQL at postgresql://harness@127\.0\.0\.1:1",
           "--history", "postgresql://harness:pw@127.0.0.1:1/h"),
    detect("detect-port-missing", rf"no such port {NO_PORT}; plugged in\?", "--board", f"nucleo-f429zi@{NO_PORT}"),
    detect("detect-port-not-a-tty", r"notes\.txt is not a serial port \(a regular file\)",
           "--board", "nucleo-f429zi@notes.txt"),
    detect("detect-bare-port-missing", rf"no such port {NO_PORT}", "--board", NO_PORT),
    detect("detect-pack-missing", r"CMSIS pack nosuch\.pack not found", "--board", "nucleo-f429zi@/dev/null",
           "--pyocd-pack", "nosuch.pack"),
    detect("detect-port-not-a-terminal", r"/dev/null is a device but not a serial port",
           "--board", "nucleo-f429zi@/dev/null"),
    detect("detect-probe-empty", r"--probe is empty: pass the debug probe's unique id",
           "--board", "nucleo-f429zi@/dev/null", "--probe", ""),
    detect("detect-float-model", r"model file float\.npz \(model \w+\) is float only .*harness model quantize "
           r"float\.npz", "--model", "float.npz"),
    case("selftest-float-model", 2, r"float\.npz .* is float only", "selftest", "--model", "float.npz",
         device=True),
    case("model-init-size-huge", 2, r"argument --input: size '99999x240' is too large",
         "model", "init", "-o", "m.npz", "--input", "99999x240"),
    detect("detect-renode-missing", r"renode not found on PATH; install Renode", "--board", "renode-stm32f4",
           path="empty-path"),
    detect("detect-qemu-missing", r"qemu-system-arm not found; install it", "--board", "qemu-stm32f405",
           path="empty-path"),
    detect("detect-unknown-board", r"unknown board 'nosuch'; boards\.yaml has: ", "--board", "nosuch"),
    detect("detect-real-board-without-port", r"board nucleo-f429zi is a real board: give its serial port",
           "--board", "nucleo-f429zi"),
    detect("detect-emulator-with-port", r"board qemu-stm32f405 is emulated", "--board", "qemu-stm32f405@/dev/null"),
    detect("detect-boards-file-not-utf8", r"latin1\.yaml is not UTF-8 text", "--boards-file", "latin1.yaml"),
    detect("detect-boards-file-folder", r"board profiles afolder is a folder", "--boards-file", "afolder"),
    detect("detect-boards-file-missing", r"cannot read board profiles nope\.yaml: No such file",
           "--boards-file", "nope.yaml"),
    *[detect(f"detect-model-damaged-{kind}", rf"damaged-{kind}\.npz is (damaged|corrupt|not a harness model).*: "
             r"restore it|damaged-.*not a harness model file", "--model", f"damaged-{kind}.npz") for kind in FLIPS],
    detect("detect-model-folder", r"model file afolder is a folder", "--model", "afolder"),
    detect("detect-model-text-file", r"notes\.txt is not a harness model file", "--model", "notes.txt"),
    detect("detect-model-missing", r"model file nope\.npz not found", "--model", "nope.npz"),
    case("doctor-empty-board", 2, r"--board='' names no board", "doctor", "--board="),
    case("calibrate-unknown-board", 2, r"unknown board 'nosuch'", "calibrate", "--board", "nosuch", device=True),
    case("calibrate-output-not-json", 2, r"-o cal\.txt: give a file name ending in \.json",
         "calibrate", "-o", "cal.txt", device=True),
    # --- reference, model, bench, evaluate, train, build --------------------------------------------------------
    case("reference-folder-as-image", 2, r"afolder.* (directory|folder)", "reference", "--image", "afolder"),
    case("reference-threshold-above-one", 2, r"argument --threshold: 2 is not a score",
         "reference", "--image", SCENE, "--threshold", "2"),
    case("reference-threshold-nan", 2, r"argument --threshold: nan is not a score",
         "reference", "--image", SCENE, "--threshold", "nan"),
    case("reference-draw-not-a-picture", 2, r"--draw out\.txt: OpenCV writes no such picture format",
         "reference", "--image", SCENE, "--draw", "out.txt"),
    case("reference-raw-out-unwritable", 2, r"--raw-out /proc/x\.npy cannot be written",
         "reference", "--image", SCENE, "--raw-out", "/proc/x.npy"),
    case("reference-raw-out-not-npy", 2, r"--raw-out raw\.txt: give a file name ending in \.npy",
         "reference", "--image", SCENE, "--raw-out", "raw.txt"),
    case("model-init-output-unwritable", 2, r"-o /proc/m\.npz cannot be written", "model", "init", "-o",
         "/proc/m.npz"),
    case("model-init-seed-negative", 2, r"argument --seed: -1 is too small", "model", "init", "-o", "m.npz",
         "--seed", "-1"),
    case("model-init-no-calibration", 2, r"argument --calib-synthetic: 0 is too small",
         "model", "init", "-o", "m.npz", "--calib-synthetic", "0"),
    case("model-init-size-zero", 2, r"argument --input: size '0x5' must be positive",
         "model", "init", "-o", "m.npz", "--input", "0x5"),
    case("model-quantize-output-unwritable", 2, r"-o /proc/q\.npz cannot be written",
         "model", "quantize", str(MODEL), "-o", "/proc/q.npz"),
    case("model-info-damaged", 2, r"damaged-zlib\.npz is damaged or not a harness model file \(error: .*\): "
         r"restore it", "model", "info", "damaged-zlib.npz"),
    case("model-info-missing", 2, r"model file nope\.npz not found: check the path", "model", "info", "nope.npz"),
    case("bench-reference-no-images", 2, r"argument --images: 0 is too small", "bench", "reference", "--images",
         "0"),
    case("bench-reference-model-missing", 2, r"model file nope\.npz not found", "bench", "reference", "--model",
         "nope.npz"),
    case("evaluate-plot-not-a-picture", 2, r"--plot pr\.txt: give a file name ending in \.png",
         "evaluate", "--plot", "pr.txt"),
    case("evaluate-threshold-negative", 2, r"argument --threshold: -1 is not a score", "evaluate", "--threshold",
         "-1"),
    case("evaluate-fixtures-missing", 2, r"fixture directory nowhere not found", "evaluate", "--fixtures",
         "nowhere"),
    case("fixtures-check-missing", 2, r"fixture directory nowhere not found", "fixtures", "check", "--fixtures",
         "nowhere"),
    case("train-steps-zero", 2, r"argument --steps: 0 is too small", "train", "--steps", "0"),
    case("train-out-unwritable", 2, r"--out /proc/train cannot be written", "train", "--out", "/proc/train"),
    case("build-unknown-board", 2, r"unknown board 'nosuch'", "build", "--board", "nosuch", device=True),
    case("build-output-unwritable", 2, r"-o /proc/fw cannot be written", "build", "-o", "/proc/fw", device=True),
    case("selftest-not-a-qemu-board", 2, r"runs the self-test firmware on QEMU.*renode-stm32f4 is a renode board",
         "selftest", "--board", "renode-stm32f4", device=True),
    case("selftest-folder-as-image", 2, r"afolder.* (directory|folder)", "selftest", "--image", "afolder",
         device=True),
]


def _files(folder: Path) -> dict[str, tuple[int, int]]:
    return {str(p.relative_to(folder)): (p.stat().st_size, p.stat().st_mtime_ns) for p in sorted(folder.rglob("*"))}


@pytest.fixture(scope="module")
def materials(tmp_path_factory) -> Path:
    """The files the cases name: stores (with runs, from a newer harness, truncated), damaged models, a non-UTF-8
    boards.yaml, a folder, a text file, an empty PATH folder."""
    folder = tmp_path_factory.mktemp("materials")
    with open_store(folder / "runs.sqlite") as store:
        for seed in range(3):
            store.add(make_run(seed))
    shutil.copy(folder / "runs.sqlite", folder / "newer.sqlite")
    # closed, not just committed: an open connection keeps the store's WAL files until the garbage collector ends
    # it, which may happen during a case and change the files that case must leave alone
    with closing(sqlite3.connect(folder / "newer.sqlite")) as db, db:
        db.execute("UPDATE schema_version SET version = 99")
    data = (folder / "runs.sqlite").read_bytes()
    with closing(sqlite3.connect(folder / "runs.sqlite")) as db:
        page = db.execute("PRAGMA page_size").fetchone()[0]
    (folder / "truncated.sqlite").write_bytes(data[:-page])
    model = MODEL.read_bytes()
    for kind, (offset, mask) in FLIPS.items():
        damaged = bytearray(model)
        damaged[offset] ^= mask
        (folder / f"damaged-{kind}.npz").write_bytes(bytes(damaged))
    save(random_model("rpool-face-m4", 0, 120, 160), folder / "float.npz")  # never quantised
    (folder / "latin1.yaml").write_bytes((ROOT / "boards.yaml").read_bytes() + "# café\n".encode("latin-1"))
    (folder / "notes.txt").write_text("not a store, a model or a port\n")
    (folder / "afolder").mkdir()
    (folder / "empty-path").mkdir()
    return folder


@pytest.mark.parametrize("kind", FLIPS)
def test_each_flip_still_hits_its_error(kind):
    """The raw library error each damaged copy was made for (numpy.load alone), so that a changed default.npz
    cannot quietly turn the cases below into other ones."""
    import io

    import numpy as np

    offset, mask = FLIPS[kind]
    damaged = bytearray(MODEL.read_bytes())
    damaged[offset] ^= mask
    with pytest.raises(Exception) as caught:
        with np.load(io.BytesIO(bytes(damaged)), allow_pickle=False) as z:
            for name in z.files:
                z[name]
    assert type(caught.value).__name__ == FLIP_ERRORS[kind]


@pytest.fixture
def workdir(materials, tmp_path, monkeypatch) -> Path:
    shutil.copytree(materials, tmp_path / "w")
    monkeypatch.chdir(tmp_path / "w")
    return tmp_path / "w"


@pytest.fixture
def no_build(monkeypatch):
    """Building firmware or opening a target fails the test: every case must be refused before that."""
    def refuse(*_args, **_kwargs):
        raise AssertionError("a firmware build or a target start was reached: the input was not checked first")

    for target in ("harness.build.firmware.build_firmware", "harness.dut.build_firmware",
                   "harness.targets.open_target", "harness.dut.open_target",
                   "harness.targets.qemu.run_semihosted"):
        monkeypatch.setattr(target, refuse)


def run_cli(capsys, argv) -> tuple[int, str, str]:
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.mark.parametrize("c", CASES, ids=str)
def test_a_bad_input_gives_one_line(c: Case, workdir, no_build, capsys, monkeypatch):
    for name, value in c.env.items():
        monkeypatch.setenv(name, str(workdir / value) if name == "PATH" else value)
    before = _files(workdir)
    start = time.monotonic()
    code, _, err = run_cli(capsys, c.argv)
    took = time.monotonic() - start
    lines = err.splitlines()
    assert "Traceback" not in err, err
    assert len(lines) == 1 and err.endswith("\n"), f"{len(lines)} lines on stderr:\n{err}"
    assert re.match(r"harness( [\w-]+)*: error: ", lines[0]), lines[0]
    assert re.search(c.line, lines[0]), lines[0]
    assert code == c.status, lines[0]
    assert _files(workdir) == before, "a refused command created or changed files"
    if c.device:
        assert took < BEFORE_BUILD_S, f"refused only after {took:.1f} s"


def test_catalogue_ids_are_unique():
    ids = [c.id for c in CASES]
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize("argv", [("history",), ("regressions",), ("report", "-o", "../r.html"),
                                  ("compare", "HEAD~1", "HEAD")])
def test_read_commands_never_create_a_store(argv, workdir, capsys):
    """A mistyped --history path is an empty history: nothing is made there (no folder, no file)."""
    before = _files(workdir)
    code, out, err = run_cli(capsys, [*argv, "--history", "typo/x.sqlite"])
    assert "Traceback" not in err and err.count("\n") <= 1
    if argv == ("history",):
        assert code == 0 and "no runs recorded in typo/x.sqlite (no such file) yet" in out
    assert not (workdir / "typo").exists() and _files(workdir) == before


def test_reading_a_store_leaves_it_as_it_was(workdir, capsys):
    before = _files(workdir)
    code, out, _ = run_cli(capsys, ["history", "--history", "runs.sqlite"])
    assert code == 0 and "3 run(s) in runs.sqlite" in out
    assert _files(workdir) == before  # no -wal/-shm left behind, no migration


def test_a_damaged_model_names_the_file_and_the_fix(workdir):
    """All three kinds of damage that used to escape as tracebacks come back as the model-file line."""
    from harness.errors import ModelError
    from harness.model.modelfile import load

    for kind in FLIPS:
        with pytest.raises(ModelError, match=rf"damaged-{kind}\.npz .*restore it|damaged-{kind}\.npz is not a"):
            load(workdir / f"damaged-{kind}.npz")
