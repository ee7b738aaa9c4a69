"""The shipped default model's training record: reproducible with a plain `harness train`."""

import json
from dataclasses import asdict
from pathlib import Path

from harness.model.modelfile import load
from harness.train.data import TRAIN_SEED, VALIDATION_SEED
from harness.train.loop import TrainConfig

MODELS = Path(__file__).resolve().parents[3] / "fixtures" / "models"


def test_default_model_record_is_the_default_recipe():
    record = json.loads((MODELS / "default.train.json").read_text())
    assert record["config"] == asdict(TrainConfig())
    assert record["train_seed"] == TRAIN_SEED and record["validation"]["seed"] == VALIDATION_SEED
    assert record["model_id"] == load(MODELS / "default.npz").model_id
    assert record["steps"] == TrainConfig().steps and record["train_seconds"] < 3600
    assert load(MODELS / "default.npz").config["detection"]["score_thresh"] == record["validation"]["threshold"]
