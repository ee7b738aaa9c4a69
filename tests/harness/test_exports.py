"""The curated public surface: complete, sorted, importable, and enough for a round trip."""

from pathlib import Path

import numpy as np

import harness

TINY = Path(__file__).resolve().parents[1] / "data" / "tiny-m4-64x48-exact.npz"


def test_all_is_sorted_and_importable():
    assert harness.__all__ == sorted(harness.__all__)
    for name in harness.__all__:
        assert getattr(harness, name) is not None


def test_public_round_trip():
    model = harness.load_model(TINY)
    run = harness.run_reference(model, np.full(model.input_hw, 90, np.uint8), mode="fixed", threshold=0.0)
    assert run.model_id == model.model_id and run.fingerprints and all(isinstance(d, harness.Detection)
                                                                       for d in run.detections)


def test_importing_the_package_and_its_plugin_loads_no_numpy_opencv_or_model_stage():
    import subprocess
    import sys

    code = ("import sys, harness, harness.plugin; "
            "print(sorted(m for m in ('numpy', 'cv2', 'harness.model', 'matplotlib') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
