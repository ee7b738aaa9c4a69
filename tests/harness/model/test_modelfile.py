"""Model files: round trip, content hash, and one-line errors for bad files."""

import zipfile

import numpy as np
import pytest

from harness.errors import InputError, ModelError
from harness.model.archs import build_config
from harness.model.modelfile import Model, load, save


@pytest.fixture
def model():
    cfg = build_config("rpool-face-m4", 48, 64)
    return Model.create(cfg, {"stem.w": np.arange(36, dtype=np.float32).reshape(4, 1, 3, 3),
                              "q/stem.mult": np.array([1 << 30] * 4, np.int32)})


def test_round_trip_keeps_id_and_arrays(model, tmp_path):
    back = load(save(model, tmp_path / "m.npz"))
    assert back.model_id == model.model_id and len(model.model_id) == 16
    assert back.config == model.config
    for k, v in model.arrays.items():
        assert back.arrays[k].dtype == v.dtype and np.array_equal(back.arrays[k], v)


def test_id_tracks_content(model):
    arrays = dict(model.arrays)
    arrays["stem.w"] = arrays["stem.w"].copy()
    arrays["stem.w"][0, 0, 0, 0] += 1
    assert Model.create(model.config, arrays).model_id != model.model_id
    assert Model.create({**model.config, "nonlinearity": "hard"}, model.arrays).model_id != model.model_id
    assert Model.create(model.config, dict(model.arrays)).model_id == model.model_id


def test_arrays_are_read_only(model):
    with pytest.raises(ValueError):
        model.arrays["stem.w"][0, 0, 0, 0] = 5


def test_tampered_file_is_rejected(model, tmp_path):
    path = save(model, tmp_path / "m.npz")
    arrays = dict(np.load(path))
    arrays["stem.w"] = arrays["stem.w"] * 2
    with open(tmp_path / "bad.npz", "wb") as f:
        np.savez(f, **arrays)
    with pytest.raises(ModelError, match="corrupt"):
        load(tmp_path / "bad.npz")


def test_missing_file(tmp_path):
    with pytest.raises(InputError, match="not found"):
        load(tmp_path / "nope.npz")


def test_not_a_model_file(tmp_path):
    (tmp_path / "x.npz").write_text("hello")
    with pytest.raises(ModelError, match="not a harness model file"):
        load(tmp_path / "x.npz")
    with zipfile.ZipFile(tmp_path / "y.npz", "w") as z:
        z.writestr("a.npy", b"junk")
    with pytest.raises(ModelError):
        load(tmp_path / "y.npz")
    np.savez(tmp_path / "z.npz", a=np.zeros(3))
    with pytest.raises(ModelError, match="no __config__"):
        load(tmp_path / "z.npz")


def test_wrong_format_version(model, tmp_path):
    bad = Model.create({**model.config, "format": "harness-model/99"}, model.arrays)
    with pytest.raises(ModelError, match="unsupported model format"):
        load(save(bad, tmp_path / "m.npz"))


def test_require_quant(model):
    with pytest.raises(ModelError, match="harness model quantize"):
        model.require_quant()
