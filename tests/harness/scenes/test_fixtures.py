import json
from pathlib import Path

import pytest

from harness.errors import InputError
from harness.scenes import fixtures
from harness.scenes.compose import GENERATOR_VERSION

FIXTURES = Path(__file__).resolve().parents[3] / "fixtures"


def test_committed_fixtures_regenerate_byte_for_byte():
    pytest.importorskip("skimage", reason="regenerating fixtures needs scikit-image: pip install -e '.[dev]'")
    assert fixtures.check(FIXTURES) == []


def test_check_names_a_changed_file(tmp_path):
    pytest.importorskip("skimage", reason="regenerating fixtures needs scikit-image: pip install -e '.[dev]'")
    fixtures.generate(tmp_path, scenes=fixtures.FIXTURE_SCENES)
    label = tmp_path / "scenes" / "scene-003.json"
    label.write_text(label.read_text().replace("320", "321", 1))
    (tmp_path / "scenes" / "scene-004.png").unlink()
    assert fixtures.check(tmp_path) == ["scenes/scene-004.png", "scenes/scene-003.json"]


def test_fixture_set_is_labelled_and_records_its_provenance():
    items = fixtures.load(FIXTURES)
    scenes = [i for i in items if i.name.startswith("scenes/")]
    photos = [i for i in items if i.name.startswith("photos/")]
    assert len(scenes) >= 24 and len(photos) >= 3
    assert sum(len(i.boxes) for i in scenes) >= 60
    for item in scenes:
        label = json.loads(item.path.with_suffix(".json").read_text())
        assert label["generator_version"] == GENERATOR_VERSION and label["seed"] == fixtures.FIXTURE_SEED
        assert 0 <= len(item.boxes) <= 6 and item.image().shape == (240, 320)
    for item in photos:
        label = json.loads(item.path.with_suffix(".json").read_text())
        assert label["licence"] and label["source"] and item.boxes


def test_load_rejects_malformed_labels_in_one_line(tmp_path):
    with pytest.raises(InputError, match="not found"):
        fixtures.load(tmp_path / "missing")
    with pytest.raises(InputError, match="no labelled images"):
        fixtures.load(tmp_path)
    (tmp_path / "a.json").write_text("{not json")
    with pytest.raises(InputError, match="a.json is not valid JSON"):
        fixtures.load(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"image": "a.png", "width": 320, "height": 240,
                                                 "faces": [{"box": [1, 2, 3]}]}))
    with pytest.raises(InputError, match="4 numbers"):
        fixtures.load(tmp_path)
    (tmp_path / "a.json").write_text(json.dumps({"image": "a.png", "faces": [{"corner": 1}]}))
    with pytest.raises(InputError, match="malformed"):
        fixtures.load(tmp_path)
