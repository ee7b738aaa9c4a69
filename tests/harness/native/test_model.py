"""Acceptance for the host build: every layer of the C kernels chained together equals the NumPy fixed-point
reference, for every fixture image plus adversarial and random inputs, on the default and a random model."""

from pathlib import Path

import numpy as np
import pytest

from harness.native.model import host_fingerprints, run_host
from harness.model.fixed_ref import device_layers, run_fixed
from harness.model.modelfile import load
from harness.model.quantize import quantize
from harness.model.random_init import random_model
from harness.model.synthetic import adversarial_images, synthetic_images
from harness.scenes.fixtures import load as load_fixtures

ROOT = Path(__file__).resolve().parents[3]


def _first_difference(host, ref):
    for name, want in ref.items():
        got = host[name]
        if got.dtype != want.dtype or not np.array_equal(got, want):
            bad = np.argwhere(got != want)
            where = tuple(bad[0]) if len(bad) else "dtype"
            return f"first differing layer {name}: {len(bad)} values, first at {where}"
    return None


def _inputs(step: int = 8):
    """Every ``step``-th fixture (the device suite runs them all on QEMU), the adversarial and two random inputs."""
    images = {f"fixture:{i.name}": i.image() for i in load_fixtures(ROOT / "fixtures")[::step]}
    images.update({f"adversarial:{k}": v for k, v in adversarial_images(240, 320).items()})
    images.update({f"random:{k}": v for k, v in enumerate(synthetic_images(240, 320, 2, seed=99))})
    return images


@pytest.fixture(scope="module")
def models():
    random = random_model("rpool-face-m4", seed=4)
    return {"default": load(ROOT / "fixtures" / "models" / "default.npz"),
            "random": quantize(random, synthetic_images(240, 320, 4, seed=7))}


@pytest.mark.parametrize("step", [8, pytest.param(1, marks=pytest.mark.slow)], ids=["sampled", "every-fixture"])
def test_default_model_every_layer_every_input(models, step):
    model = models["default"]
    for name, image in _inputs(step).items():
        ref = run_fixed(model, image)
        host = run_host(model, image)
        assert _first_difference(host, ref.layers) is None, f"{name}: {_first_difference(host, ref.layers)}"
        assert host_fingerprints(host, device_layers(model.config)) == dict(ref.fingerprints)


@pytest.mark.parametrize("hard", [False, True])
def test_random_model_every_layer(models, hard):
    model = models["random"]
    if hard:
        cfg = dict(model.config, nonlinearity="hard")
        model = model.replace(config=cfg)
    for name, image in list(_inputs().items())[-8:]:
        ref = run_fixed(model, image)
        assert _first_difference(run_host(model, image), ref.layers) is None, name
