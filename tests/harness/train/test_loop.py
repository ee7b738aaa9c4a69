import json

import numpy as np
import pytest

torch = pytest.importorskip("torch", reason="training needs the [torch] extra")
pytest.importorskip("skimage", reason="training scenes need scikit-image: pip install -e '.[dev]'")

from harness.model.modelfile import load  # noqa: E402
from harness.train.loop import TrainConfig, export, lr_at, train  # noqa: E402

TINY = TrainConfig(steps=4, batch=4, pool=16, checkpoint_every=2, log_every=1, calibration_images=2, threads=1)


class Interrupt(Exception):
    pass


def _weights(state) -> dict:
    return {k: v.detach().clone() for k, v in state["net"].state_dict().items()}


def test_interrupted_training_resumes_to_the_same_weights(tmp_path):
    straight = _weights(train(TINY, tmp_path / "a", progress=lambda m: None))

    def stop_at_step_3(msg):
        if msg.startswith("step 3/"):
            raise Interrupt

    with pytest.raises(Interrupt):
        train(TINY, tmp_path / "b", progress=stop_at_step_3)
    seen = []
    resumed = train(TINY, tmp_path / "b", progress=seen.append)
    assert seen[0] == "resuming at step 2/4"
    assert resumed["step"] == 4 and [h["step"] for h in resumed["history"]] == [1, 2, 3, 4]
    for k, v in _weights(resumed).items():
        assert torch.equal(v, straight[k]), k


def test_export_writes_a_quantised_model_and_its_record(tmp_path):
    state = train(TINY, tmp_path, progress=lambda m: None)
    path = export(TINY, state, tmp_path, progress=lambda m: None, validation_scenes=3)
    model = load(path)
    assert model.quantized and model.input_hw == (240, 320) and model.arch == "rpool-face-m4"
    record = json.loads((tmp_path / "train.json").read_text())
    assert record["model_id"] == model.model_id and record["config"]["seed"] == 0
    assert record["steps"] == 4 and len(record["history"]) == 4
    assert 0.0 < record["validation"]["threshold"] <= 1.0 and record["validation"]["scenes"] > 0
    assert (tmp_path / "train.png").stat().st_size > 10_000


def test_a_changed_configuration_does_not_resume_silently(tmp_path):
    train(TINY, tmp_path, progress=lambda m: None)
    from dataclasses import replace

    from harness.errors import HarnessError

    with pytest.raises(HarnessError, match="another configuration"):
        train(replace(TINY, lr=1e-4), tmp_path, progress=lambda m: None)


def test_learning_rate_warms_up_then_decays():
    cfg = TrainConfig(steps=1000, warmup=100, lr=1e-3)
    lrs = np.array([lr_at(cfg, s) for s in range(1000)])
    assert lrs[0] == pytest.approx(1e-5) and lrs[99] == pytest.approx(1e-3)
    assert np.all(np.diff(lrs[100:]) <= 0) and lrs[-1] == pytest.approx(1e-5, rel=0.05)
