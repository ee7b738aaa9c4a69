"""Firmware-in-the-loop test harness for RNNPool face detection on STM32.

The public surface: load a model, run the references, quantise, post-process.
"""

from harness.errors import HarnessError
from harness.model.detect import Detection, detect
from harness.model.fixed_ref import FixedResult, run_fixed
from harness.model.float_ref import FloatResult, run_float
from harness.model.image import load_image
from harness.model.modelfile import Model
from harness.model.modelfile import load as load_model
from harness.model.modelfile import save as save_model
from harness.model.quantize import quantize
from harness.model.run import ReferenceRun, run_reference

__version__ = "0.1.0"

__all__ = [
    "Detection",
    "FixedResult",
    "FloatResult",
    "HarnessError",
    "Model",
    "ReferenceRun",
    "detect",
    "load_image",
    "load_model",
    "quantize",
    "run_fixed",
    "run_float",
    "run_reference",
    "save_model",
]
