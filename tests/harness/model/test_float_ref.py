"""Float reference: dtypes and shapes, the hard-nonlinearity switch, and layer semantics."""

import numpy as np

from harness.model import float_ref
from harness.model.random_init import random_model
from harness.model.synthetic import synthetic_image


def test_layers_and_raw():
    m = random_model("rpool-face-m4", seed=2, height=120, width=160)
    r = float_ref.run_float(m, synthetic_image(120, 160, seed=1))
    assert r.layers["stem"].shape == (60, 80, 4) and r.layers["rnnpool"].shape == (15, 20, 64)
    assert all(t.dtype == np.float32 for t in r.layers.values())
    assert r.raw.dtype == np.float32 and r.raw.size == 6 * (15 * 20 * 2 + 8 * 10 * 2)
    assert 0 <= r.layers["stem"].min() and r.layers["stem"].max() <= 6  # ReLU6
    # replicate padding: last row and column copied
    p = r.layers["rnnpool"]
    assert np.array_equal(p[-1], p[-2]) and np.array_equal(p[:, -1], p[:, -2])
    # L2Norm: per-pixel norm equals the layer weight (10 for the first head)
    assert np.allclose(np.linalg.norm(r.layers["l2norm0"], axis=-1), 10, rtol=1e-4)


def test_hard_switch_changes_rnn_only():
    m = random_model("rpool-face-m4", seed=2, height=48, width=64)
    img = synthetic_image(48, 64, seed=1)
    a, b = float_ref.run_float(m, img), float_ref.run_float(m, img, hard=True)
    assert np.array_equal(a.layers["stem"], b.layers["stem"])
    assert not np.allclose(a.layers["rnnpool"], b.layers["rnnpool"])


def test_fastgrnn_single_step_by_hand():
    rng = np.random.default_rng(0)
    p = {"W": rng.normal(size=(3, 2)).astype(np.float32), "U": rng.normal(size=(3, 3)).astype(np.float32),
         "bg": np.float32([0.1, -0.2, 0.3]), "bh": np.float32([0.0, 0.5, -0.5]),
         "sig_zeta": np.float32(0.9), "sig_nu": np.float32(0.05)}
    x = rng.normal(size=(1, 2, 2)).astype(np.float32)
    h = np.zeros(3)
    for t in range(2):
        pre = p["W"] @ x[0, t] + p["U"] @ h
        z = 1 / (1 + np.exp(-(pre + p["bg"])))
        h = z * h + (0.9 * (1 - z) + 0.05) * np.tanh(pre + p["bh"])
    assert np.allclose(float_ref.fastgrnn(x, p, hard=False)[0], h, atol=1e-6)
