"""One entry point over the references: image → raw outputs, detections and (fixed) fingerprints."""

from __future__ import annotations

from dataclasses import dataclass
from collections.abc import Mapping

import numpy as np

from harness.errors import UsageError
from harness.model.detect import Detection, detect
from harness.model.fixed_ref import run_fixed
from harness.model.float_ref import run_float
from harness.model.modelfile import Model


@dataclass(frozen=True)
class ReferenceRun:
    mode: str                              # "float" or "fixed"
    model_id: str
    raw: np.ndarray                        # EdgeML raw vector, float32 (dequantised for fixed)
    detections: tuple[Detection, ...]
    layers: Mapping[str, np.ndarray]
    fingerprints: Mapping[str, int] | None  # fixed only


def default_mode(model: Model) -> str:
    return "fixed" if model.quantized else "float"


def run_reference(model: Model, image_u8: np.ndarray, mode: str | None = None,
                  threshold: float | None = None) -> ReferenceRun:
    mode = mode or default_mode(model)
    if image_u8.shape != model.input_hw:
        raise UsageError(f"image is {image_u8.shape[1]}x{image_u8.shape[0]} but the model takes "
                         f"{model.input_hw[1]}x{model.input_hw[0]}; load it with harness.model.image.load_image")
    if mode == "fixed":
        r = run_fixed(model, image_u8)
        raw, layers, fps = r.raw, r.layers, r.fingerprints
    elif mode == "float":
        f = run_float(model, image_u8)
        raw, layers, fps = f.raw, f.layers, None
    else:
        raise UsageError(f"unknown reference mode {mode!r}; use 'float' or 'fixed'")
    return ReferenceRun(mode, model.model_id, raw, tuple(detect(model.config, raw, threshold)), layers, fps)
