"""Committed baselines: a readable JSON file per board and model that reads back as the same run."""

from __future__ import annotations

import dataclasses
import json

import pytest

from harness.errors import UsageError
from harness.history.baseline import BASELINES, baseline_path, load_baseline, read_baseline, write_baseline
from harness.history.record import FORMAT
from tests.harness.history.test_gate import make_run


def test_the_default_folder_is_the_repositorys():
    assert BASELINES.parts[-2:] == ("fixtures", "baselines") and (BASELINES.parent.parent / "harness").is_dir()
    assert baseline_path("qemu-stm32f405", "face-rnnpool") == BASELINES / "qemu-stm32f405" / "face-rnnpool.json"


def test_round_trip_equals_the_run_without_its_id(tmp_path):
    run = make_run(repeats=3, unit="cycles", noise=0.01, id=42, extra={"clock_hz": 180000000})
    path = write_baseline(run, baseline_path(run.board, run.model, tmp_path))
    assert path == tmp_path / "nucleo-f429zi" / "face-rnnpool.json"
    assert read_baseline(path) == dataclasses.replace(run, id=None)
    assert load_baseline("nucleo-f429zi", "face-rnnpool", tmp_path) == dataclasses.replace(run, id=None)
    assert [p.name for p in path.parent.iterdir()] == ["face-rnnpool.json"]  # no temporary file left
    assert path.stat().st_mode & 0o777 == 0o644  # readable by all: it is committed and shared


def test_the_file_is_laid_out_for_review(tmp_path):
    run = make_run(id=3)
    path = write_baseline(run, tmp_path / "b" / "m.json")
    text = path.read_text()
    data = json.loads(text)
    assert "id" not in data and data["format"] == FORMAT
    lines = text.splitlines()
    assert lines[0] == "{" and lines[1].startswith(' "') and text.endswith("}\n")
    keys = [line.split('"')[1] for line in lines if line.startswith(' "')]
    assert keys == sorted(keys)
    stem = next(line for line in lines if line.strip().startswith('"stem": ['))
    assert stem.strip().startswith('"stem": [') and stem.rstrip(",").endswith("]")  # samples on one line
    assert sum(line.strip() == '"name": "scenes/scene-001",' for line in lines) == 1


def test_overwriting_a_baseline(tmp_path):
    path = tmp_path / "board" / "model.json"
    write_baseline(make_run(), path)
    write_baseline(make_run(arena_bytes=1), path)
    assert read_baseline(path).arena_bytes == 1


def test_a_missing_baseline_says_how_to_record_one(tmp_path):
    path = baseline_path("nucleo-f429zi", "face-rnnpool", tmp_path)
    with pytest.raises(UsageError) as err:
        load_baseline("nucleo-f429zi", "face-rnnpool", tmp_path)
    assert str(err.value) == (f"no baseline for nucleo-f429zi/face-rnnpool at {path}: record one with "
                              "`harness baseline update --board nucleo-f429zi`")


@pytest.mark.parametrize("text, says", [
    ("{not json", "not JSON"),
    ("[1, 2]", "not a baseline"),
    ('{"format": "harness-run/9"}', "format 'harness-run/9'"),
    ('{"board": "x"}', "format None"),
    (json.dumps({"format": FORMAT, "board": "x"}), f"not a {FORMAT} record"),
])
def test_a_malformed_baseline_names_the_file(tmp_path, text, says):
    path = tmp_path / "qemu-stm32f405" / "face-rnnpool.json"
    path.parent.mkdir()
    path.write_text(text)
    with pytest.raises(UsageError) as err:
        read_baseline(path)
    message = str(err.value)
    assert message.startswith(f"{path}: ") and says in message and "\n" not in message
    assert message.endswith("re-record it with `harness baseline update --board qemu-stm32f405`")


@pytest.mark.parametrize("board, model", [("", "m"), ("..", "m"), ("a/b", "m"), ("b", "x/y")])
def test_names_that_are_not_file_names(board, model):
    with pytest.raises(UsageError, match="cannot name a baseline file"):
        baseline_path(board, model)
