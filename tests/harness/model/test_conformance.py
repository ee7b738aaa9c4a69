"""The float RNNPool against a real EdgeML trace (VWW model, 6×6×8 patch, h1 = h2 = 8)."""

from pathlib import Path

import numpy as np
import pytest

from harness.model import float_ref

# EdgeML's own trace, committed with its source and licence (tests/data/conformance/README.md).
TRACE = Path(__file__).resolve().parents[2] / "data" / "conformance" / "rnnpool_float_vww_trace.npz"


@pytest.fixture(scope="module")
def trace():
    return np.load(TRACE)


def _params(t, n):
    return {"W": t[f"W{n}"], "U": t[f"U{n}"], "bg": t[f"Bg{n}"], "bh": t[f"Bh{n}"],
            "sig_zeta": t[f"sigmoid_zeta{n}"], "sig_nu": t[f"sigmoid_nu{n}"]}


def test_rnnpool_reproduces_edgeml_trace(trace):
    out = float_ref.rnnpool(trace["input"], _params(trace, 1), _params(trace, 2), patch=6, stride=6, hard=False)
    assert out.shape == (1, 1, 32)
    err = np.abs(out.reshape(-1) - trace["output"]).max()
    assert err <= 1e-5, f"max abs error {err:.3g} against EdgeML's trace"


def test_trace_pins_traversal_order(trace):
    """Swapping rows and columns must break the match: the test can fail."""
    swapped = trace["input"].transpose(1, 0, 2)
    out = float_ref.rnnpool(swapped, _params(trace, 1), _params(trace, 2), patch=6, stride=6, hard=False)
    assert np.abs(out.reshape(-1) - trace["output"]).max() > 1e-3
