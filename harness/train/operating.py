"""Choosing a trained model's operating score threshold on validation scenes (training crops, their own seed) —
never on the fixtures, which must stay a held-out test."""

from __future__ import annotations

import copy

import numpy as np

from harness.accuracy.metrics import Accuracy, evaluate
from harness.model.detect import detect
from harness.model.float_ref import run_float
from harness.model.modelfile import Model


def operating_threshold(model: Model, images: np.ndarray, boxes: list[np.ndarray]) -> tuple[float, Accuracy]:
    """The score threshold that maximises F1 on (images, boxes), floored to 0.01, and the accuracy there."""
    cfg = model.config
    per_image = [(detect(cfg, run_float(model, img).raw, cfg["detection"]["conf_thresh"]),
                  [tuple(b) for b in bx]) for img, bx in zip(images, boxes)]
    curve = evaluate(per_image, threshold=1.0).curve
    f1 = [2 * p * r / (p + r) if p + r else 0.0 for _, p, r in curve]
    best = curve[int(np.argmax(f1))][0] if curve else cfg["detection"]["score_thresh"]
    threshold = float(np.floor(best * 100) / 100)
    return threshold, evaluate(per_image, threshold)


def with_threshold(model: Model, threshold: float) -> Model:
    cfg = copy.deepcopy(model.config)
    cfg["detection"]["score_thresh"] = threshold
    return model.replace(config=cfg)
