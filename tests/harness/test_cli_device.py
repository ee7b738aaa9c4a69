"""``harness detect`` on the default emulated board: the same detections as ``harness reference --fixed``, the
latency and memory, the picture, progress on stderr, and one-line errors."""

import json
from pathlib import Path

import cv2

from harness.cli import main
from tests.harness.targets.needs import needs_emulator

ROOT = Path(__file__).resolve().parents[2]
SCENE = str(ROOT / "fixtures" / "scenes" / "scene-009.png")


@needs_emulator
def test_detect_prints_the_reference_detections_and_latency(capsys, tmp_path):
    out = tmp_path / "boxes.png"
    assert main(["detect", SCENE, "--board", "qemu-stm32f405", "-o", str(out), "--json"]) == 0
    captured = capsys.readouterr()
    device = json.loads(captured.out)
    assert main(["reference", "--fixed", "--image", SCENE, "--json"]) == 0
    reference = json.loads(capsys.readouterr().out)
    assert device["detections"] == reference["detections"] and len(device["detections"]) >= 3
    assert device["match"] and device["model_id"] == reference["model_id"]
    latency = device["latency"]
    # the default model's whole inference: 95.3 M instructions (README, "Measured"), not a stub's count
    assert latency["unit"] == "instructions" and latency["total"] == sum(latency["layers"].values()) > 5 * 10**7
    assert 0 < device["memory"]["stack_bytes"] < device["memory"]["ram_bytes"] <= 128 * 1024
    assert "QEMU" in device["runs_on"] and "uploading image 100 %" in captured.err
    picture = cv2.imread(str(out))
    assert picture is not None and picture.shape[0] >= 240 and picture.shape[0] * 4 == picture.shape[1] * 3


def test_detect_errors_are_one_line(capsys):
    assert main(["detect", SCENE, "--board", "no-such-board"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "no-such-board" in err
    assert main(["detect", SCENE, "--board", "nucleo-f429zi"]) != 0
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "nucleo-f429zi@/dev/ttyACM0" in err


class _FakeDut:
    """Just what cmd_detect reads from a started Dut (no build, no board)."""

    def __init__(self, timing=None):
        from types import SimpleNamespace

        from harness.boards import board
        from harness.dut import BoardChoice

        self.choice = BoardChoice(board("qemu-stm32f405"))
        self.target = SimpleNamespace(describe=lambda: "QEMU netduinoplus2 (fake)")
        self.build = SimpleNamespace(generated=None, info={"ram_bytes": 90_000, "flash_bytes": 400_000})
        if timing is not None:
            self.timing = timing

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return None

    def run(self, image):
        from types import SimpleNamespace

        return SimpleNamespace(arena_bytes=60_000, stack_bytes=2_000)

    def latency(self, report):
        return {"total": 123_456, "unit": "instructions", "layers": {"stem": 123_456}}


def _fake_detect(monkeypatch, timing=None, problems=(), match=True):
    from types import SimpleNamespace

    import harness.cli.device as cli_device
    import harness.compare.device as device
    import harness.history.recording as recording
    from tests.harness.history.store_writer import make_run

    verdict = SimpleNamespace(detections=[], match=match, problems=() if match else ("layer mb3: crc differs",))
    monkeypatch.setattr(cli_device, "open_dut", lambda *a, **k: _FakeDut(timing))
    monkeypatch.setattr(device, "Reference", lambda *a: SimpleNamespace(check=lambda *a: verdict))
    monkeypatch.setattr(cli_device, "_history_run", lambda *a: make_run(1))
    monkeypatch.setattr(recording, "finish", lambda run, *a, **k: recording.Outcome(
        run, "" if problems else "run #7 in h.sqlite", problems=tuple(problems)))


def test_detect_prints_upload_and_inference_time_when_the_dut_measures_them(capsys, monkeypatch):
    _fake_detect(monkeypatch, timing={"upload_s": 1.25, "inference_s": 0.5})
    assert main(["detect", SCENE]) == 0
    assert "latency 123,456 instructions  (emulator: instructions, not cycles); upload 1.25 s, inference 0.50 s" \
        in capsys.readouterr().out
    assert main(["detect", SCENE, "--json"]) == 0
    latency = json.loads(capsys.readouterr().out)["latency"]
    assert latency["upload_s"] == 1.25 and latency["inference_s"] == 0.5 and latency["total"] == 123_456


def test_detect_without_timing_prints_the_instruction_count_alone(capsys, monkeypatch):
    _fake_detect(monkeypatch)
    assert main(["detect", SCENE]) == 0
    out = capsys.readouterr().out
    assert "latency 123,456 instructions" in out and "upload" not in out


def test_detect_prints_its_results_before_recording_them(capsys, monkeypatch, tmp_path):
    _fake_detect(monkeypatch)
    assert main(["detect", SCENE, "--history", str(tmp_path / "h.sqlite")]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("board qemu-stm32f405") and out[-1] == "recorded as run #7 in h.sqlite"


def test_a_run_that_cannot_be_recorded_is_still_printed_then_one_line_and_status_2(capsys, monkeypatch, tmp_path):
    _fake_detect(monkeypatch, problems=["the history h.sqlite stayed locked by another writer: let it finish"])
    assert main(["detect", SCENE, "--history", str(tmp_path / "h.sqlite")]) == 2
    captured = capsys.readouterr()
    assert "latency 123,456 instructions" in captured.out and "recorded as" not in captured.out
    assert captured.err == ("harness: error: the run was not recorded: the history h.sqlite stayed locked by "
                            "another writer: let it finish\n")


def test_detect_streams_the_upload_unless_told_not_to(capsys):
    """On the host board (the device firmware behind a pty): the first layers run as the rows arrive by default,
    and --no-stream uploads the whole image first; the same fingerprints either way."""
    runs = {}
    for flags in ((), ("--no-stream",)):
        assert main(["detect", SCENE, "--board", "host", "--json", *flags]) == 0
        out = json.loads(capsys.readouterr().out)
        assert out["match"], out["problems"]
        runs[flags] = out["latency"]["streamed"]
    assert runs == {(): True, ("--no-stream",): False}
