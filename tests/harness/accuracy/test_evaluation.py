"""Accuracy of the shipped default model on the fixtures: the figures the issue asks for, as a regression check."""

from pathlib import Path

import pytest

from harness.accuracy.evaluation import evaluate_model
from harness.model.modelfile import load

ROOT = Path(__file__).resolve().parents[3]
DEFAULT = ROOT / "fixtures" / "models" / "default.npz"
FIXTURES = ROOT / "fixtures"


@pytest.fixture(scope="module")
def default_model():
    return load(DEFAULT)


@pytest.fixture(scope="module")
def float_eval(default_model):
    return evaluate_model(default_model, FIXTURES, "float")


def test_default_model_is_a_quantised_m4_at_qvga(default_model):
    assert default_model.arch == "rpool-face-m4" and default_model.input_hw == (240, 320)
    assert default_model.quantized


def test_float_model_reaches_ap50_of_0_80(float_eval):
    assert float_eval.mode == "float" and float_eval.overall.images == 35
    assert float_eval.overall.ap50 >= 0.80
    assert float_eval.subsets["scenes"].ap50 >= 0.80


def test_fixed_point_model_is_within_one_point(default_model, float_eval):
    fixed = evaluate_model(default_model, FIXTURES, "fixed")
    assert fixed.mode == "fixed" and fixed.model_id == float_eval.model_id
    assert abs(fixed.overall.ap50 - float_eval.overall.ap50) <= 0.01


def test_truths_are_scaled_to_the_model_input():
    tiny = load(ROOT / "tests" / "data" / "tiny-m4-64x48-exact.npz")
    ev = evaluate_model(tiny, FIXTURES / "photos", "float")
    astronaut = next(r for r in ev.images if r.item.name == "astronaut")
    (x0, y0, x1, y1), = astronaut.truths
    (lx0, ly0, lx1, ly1), = astronaut.item.boxes
    assert (x0, y0, x1, y1) == pytest.approx((lx0 * 0.2, ly0 * 0.2, lx1 * 0.2, ly1 * 0.2))
