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
    assert latency["unit"] == "instructions" and latency["total"] == sum(latency["layers"].values()) > 10**8
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
