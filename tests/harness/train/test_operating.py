from pathlib import Path

import pytest

from harness.accuracy.metrics import evaluate
from harness.model.detect import detect
from harness.model.float_ref import run_float
from harness.model.modelfile import load
from harness.train.operating import operating_threshold, with_threshold

pytest.importorskip("skimage", reason="validation scenes need scikit-image: pip install -e '.[dev]'")
from harness.train.data import VALIDATION_SEED, make_scenes, train_spec  # noqa: E402

DEFAULT = Path(__file__).resolve().parents[3] / "fixtures" / "models" / "default.npz"


def _f1(acc):
    p, r = acc.precision, acc.recall
    return 2 * p * r / (p + r) if p + r else 0.0


def test_chosen_threshold_maximises_f1_on_the_validation_scenes():
    model = load(DEFAULT)
    images, boxes = make_scenes(train_spec(240, 320), VALIDATION_SEED, 6, workers=1)
    threshold, acc = operating_threshold(model, images, boxes)
    assert 0.05 <= threshold < 1.0 and acc.faces == sum(len(b) for b in boxes)
    per_image = [(detect(model.config, run_float(model, im).raw, 0.05), [tuple(b) for b in bx])
                 for im, bx in zip(images, boxes)]
    for other in (0.3, 0.5, 0.7, 0.95):
        assert _f1(acc) >= _f1(evaluate(per_image, other)) - 1e-12
    changed = with_threshold(model, 0.42)
    assert changed.config["detection"]["score_thresh"] == 0.42 and changed.model_id != model.model_id
    assert model.config["detection"]["score_thresh"] != 0.42  # the original is untouched
