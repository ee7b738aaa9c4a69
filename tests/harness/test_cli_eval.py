"""The accuracy commands: evaluate, fixtures generate/check."""

import json
import shutil
from pathlib import Path

import pytest

from harness.cli import main

ROOT = Path(__file__).resolve().parents[2]
TINY = ROOT / "tests" / "data" / "tiny-m4-64x48-exact.npz"


def _run(capsys, *argv):
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return code, out, err


@pytest.fixture
def few_fixtures(tmp_path):
    for stem in ("scenes/scene-000", "scenes/scene-001", "photos/astronaut"):
        for ext in (".png", ".json"):
            (tmp_path / stem).parent.mkdir(exist_ok=True)
            shutil.copy(ROOT / "fixtures" / f"{stem}{ext}", tmp_path / f"{stem}{ext}")
    return tmp_path


def test_evaluate_json_has_the_documented_keys(capsys, few_fixtures, tmp_path):
    code, out, _ = _run(capsys, "evaluate", "--model", TINY, "--fixtures", few_fixtures, "--fixed", "--json",
                        "--plot", tmp_path / "pr.png")
    assert code == 0
    doc = json.loads(out)
    assert {"ap50", "precision", "recall", "images"} <= set(doc)
    assert doc["images"] == 3 and doc["mode"] == "fixed" and 0.0 <= doc["ap50"] <= 1.0
    assert set(doc["subsets"]) == {"scenes", "photos"}
    assert (tmp_path / "pr.png").stat().st_size > 10_000


def test_evaluate_text_table_and_pictures(capsys, few_fixtures, tmp_path):
    code, out, _ = _run(capsys, "evaluate", "--model", TINY, "--fixtures", few_fixtures, "--draw", tmp_path / "pics")
    assert code == 0 and "(float)" in out and "AP@0.5" in out
    assert [line.split()[0] for line in out.splitlines()[2:5]] == ["photos", "scenes", "all"]
    pics = sorted(p.relative_to(tmp_path / "pics").as_posix() for p in (tmp_path / "pics").rglob("*.png"))
    assert pics == ["photos/astronaut.png", "scenes/scene-000.png", "scenes/scene-001.png"]


@pytest.mark.parametrize("argv, message", [
    (["evaluate", "--model", TINY, "--fixtures", "{tmp}/nowhere"], "fixture directory {tmp}/nowhere not found"),
    (["evaluate", "--model", TINY, "--fixtures", "{tmp}"], "no labelled images"),
])
def test_evaluate_errors_are_one_line(capsys, tmp_path, argv, message):
    code, _, err = _run(capsys, *[str(a).format(tmp=tmp_path) for a in argv])
    assert code == 2 and err.startswith("harness: error: ") and err.count("\n") == 1
    assert message.format(tmp=tmp_path) in err


def test_evaluate_fixed_needs_a_quantised_model(capsys, tmp_path, few_fixtures):
    _run(capsys, "model", "init", "--input", "64x48", "--no-quantize", "-o", tmp_path / "f.npz")
    code, _, err = _run(capsys, "evaluate", "--model", tmp_path / "f.npz", "--fixtures", few_fixtures, "--fixed")
    assert code == 2 and "has no fixed-point part" in err


def test_fixtures_check_passes_then_catches_an_edit(capsys, tmp_path):
    pytest.importorskip("skimage", reason="regenerating fixtures needs scikit-image: pip install -e '.[dev]'")
    code, out, _ = _run(capsys, "fixtures", "generate", "-o", tmp_path)
    assert code == 0 and "wrote 70 files" in out
    assert _run(capsys, "fixtures", "check", "--fixtures", tmp_path)[0] == 0
    img = tmp_path / "photos" / "camera.png"
    img.write_bytes(img.read_bytes()[:-1])
    code, _, err = _run(capsys, "fixtures", "check", "--fixtures", tmp_path)
    assert code == 1 and "photos/camera.png" in err and "harness fixtures generate" in err
