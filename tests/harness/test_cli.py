"""The command line: outputs of the reference, model and bench commands, and one-line errors."""

import json
import subprocess
import sys
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.cli import main
from harness.model.synthetic import synthetic_image

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny-m4-64x48-exact.npz"


@pytest.fixture
def image(tmp_path):
    path = tmp_path / "scene.png"
    cv2.imwrite(str(path), cv2.cvtColor(synthetic_image(96, 128, seed=3), cv2.COLOR_GRAY2BGR))
    return path


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_reference_json_and_raw_out(capsys, image, tmp_path):
    code, out, _ = _run(capsys, "reference", "--model", TINY, "--image", image, "--fixed", "--json",
                        "--threshold", "0.05", "--raw-out", tmp_path / "raw.npy")
    assert code == 0
    doc = json.loads(out)
    assert doc["mode"] == "fixed" and len(doc["fingerprints"]) == 17
    assert set(doc["detections"][0]) == {"x0", "y0", "x1", "y1", "score"}
    raw = np.load(tmp_path / "raw.npy")
    assert raw.dtype == np.float32 and raw.shape == (6 * (6 * 8 * 2 + 3 * 4 * 2),)


def test_reference_float_text(capsys, image):
    code, out, _ = _run(capsys, "reference", "--model", TINY, "--image", image, "--float")
    assert code == 0 and "(rpool-face-m4, float)" in out


def test_float_and_fixed_raw_differ_but_agree(capsys, image, tmp_path):
    for mode in ("float", "fixed"):
        _run(capsys, "reference", "--model", TINY, "--image", image, f"--{mode}", "--raw-out", tmp_path / f"{mode}.npy")
    f, q = np.load(tmp_path / "float.npy"), np.load(tmp_path / "fixed.npy")
    assert not np.array_equal(f, q)
    assert f @ q / np.linalg.norm(f) / np.linalg.norm(q) > 0.95


@pytest.mark.parametrize("argv, message", [
    (["reference", "--model", "{tmp}/none.npz", "--image", "{img}"], "model file {tmp}/none.npz not found"),
    (["reference", "--model", "{tiny}", "--image", "{tmp}/none.png"], "image {tmp}/none.png not found"),
    (["reference", "--model", "{tiny}", "--image", "{tmp}/text.png"], "is not an image OpenCV can read"),
    (["reference", "--model", "{img}", "--image", "{img}"], "is not a harness model file"),
    (["model", "init", "--arch", "rpool-face-m9", "-o", "{tmp}/m.npz"], "unknown architecture 'rpool-face-m9'"),
    (["model", "import-edgeml", "{tmp}/c.pth", "--arch", "nope", "-o", "{tmp}/m.npz"], "unknown architecture"),
    (["model", "init", "--input", "8x8", "-o", "{tmp}/m.npz"], "too small"),
])
def test_bad_input_gives_one_line(capsys, tmp_path, image, argv, message):
    (tmp_path / "text.png").write_text("hello")
    fill = {"tmp": tmp_path, "img": image, "tiny": TINY}
    code, out, err = _run(capsys, *[a.format(**fill) for a in argv])
    assert code == 2
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("harness: error: "), err
    assert message.format(**fill) in lines[0]


def test_module_entry_point_has_no_traceback(tmp_path):
    r = subprocess.run([sys.executable, "-m", "harness", "reference", "--model", str(tmp_path / "x.npz"),
                        "--image", "y.png"], capture_output=True, text=True)
    assert r.returncode == 2 and "Traceback" not in r.stderr and r.stderr.count("\n") == 1


def test_model_init_quantize_info(capsys, tmp_path):
    code, out, err = _run(capsys, "model", "init", "--input", "64x48", "--seed", "5", "--no-quantize",
                          "-o", tmp_path / "f.npz")
    assert code == 0
    code, out, err = _run(capsys, "model", "quantize", tmp_path / "f.npz", "--calib-synthetic", "2",
                          "-o", tmp_path / "q.npz")
    assert code == 0 and "raw outputs: cosine" in err and "rnnpool" in err
    code, out, _ = _run(capsys, "model", "info", tmp_path / "q.npz", "--json")
    info = json.loads(out)
    assert info["quantized"] and info["input"] == "64x48" and info["arch"] == "rpool-face-m4"
    assert info["threshold"] == 0.5


def test_commands_default_to_the_shipped_model(capsys):
    code, out, _ = _run(capsys, "model", "info", "--json")
    info = json.loads(out)
    assert code == 0 and info["arch"] == "rpool-face-m4" and info["quantized"] and info["threshold"] > 0.5
    image = Path(__file__).resolve().parents[2] / "fixtures" / "scenes" / "scene-005.png"
    code, out, _ = _run(capsys, "reference", "--image", image, "--json")
    doc = json.loads(out)
    assert doc["model_id"] == info["model_id"] and doc["mode"] == "fixed" and len(doc["detections"]) >= 4


def test_bench_reference_json(capsys):
    code, out, _ = _run(capsys, "bench", "reference", "--model", TINY, "--images", "2", "--json")
    doc = json.loads(out)
    assert code == 0 and doc["float_ips"] > 0 and doc["fixed_ips"] > 0


def test_reference_draws_picture(capsys, image, tmp_path):
    code, _, _ = _run(capsys, "reference", "--model", TINY, "--image", image, "--draw", tmp_path / "d.png")
    assert code == 0 and cv2.imread(str(tmp_path / "d.png")).shape == (96, 128, 3)  # model size 64×48, ×2
