"""Firmware-in-the-loop test harness for RNNPool face detection on STM32.

The public surface: load a model, run the references, quantise, post-process. Exports load on first use (PEP
562), so importing ``harness`` — as pytest does for the plugin — costs no NumPy, OpenCV or model stage.
"""

from __future__ import annotations

import importlib

from harness.errors import HarnessError  # noqa: F401 - exported (__all__)

__version__ = "0.1.0"

# name → (module, attribute)
_EXPORTS = {
    "Detection": ("harness.model.detect", "Detection"),
    "FixedResult": ("harness.model.fixed_ref", "FixedResult"),
    "FloatResult": ("harness.model.float_ref", "FloatResult"),
    "Model": ("harness.model.modelfile", "Model"),
    "ReferenceRun": ("harness.model.run", "ReferenceRun"),
    "detect": ("harness.model.detect", "detect"),
    "load_image": ("harness.model.image", "load_image"),
    "load_model": ("harness.model.modelfile", "load"),
    "quantize": ("harness.model.quantize", "quantize"),
    "run_fixed": ("harness.model.fixed_ref", "run_fixed"),
    "run_float": ("harness.model.float_ref", "run_float"),
    "run_reference": ("harness.model.run", "run_reference"),
    "save_model": ("harness.model.modelfile", "save"),
}

__all__ = sorted(["HarnessError", *_EXPORTS])


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'harness' has no attribute {name!r}")
    module, attribute = _EXPORTS[name]
    value = getattr(importlib.import_module(module), attribute)
    globals()[name] = value  # once: later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_EXPORTS})
