"""Acceptance for the host build of the generated model: the C that the firmware runs (fused MBConv, planned
arena, on-device candidate selection, the front that streams) equals the NumPy fixed-point reference on every layer,
for every fixture
image (a sample of them by default) plus adversarial and random inputs, on the default model and on random-weight
models."""

from pathlib import Path

import numpy as np
import pytest

from harness.native.generated import HostModel
from harness.codegen.graph import candidate_capacity
from harness.model.candidates import candidates, detect_candidates
from harness.model.detect import detect
from harness.model.fixed_ref import run_fixed
from harness.model.modelfile import load
from harness.model.quantize import quantize
from harness.model.random_init import random_model
from harness.model.synthetic import adversarial_images, synthetic_images
from harness.scenes.fixtures import load as load_fixtures

ROOT = Path(__file__).resolve().parents[3]


def first_difference(device: dict, reference: dict) -> str | None:
    for name, got in device.items():
        want = reference[name]
        if got.dtype != want.dtype or got.shape != want.shape:
            return f"layer {name}: {got.dtype}{got.shape} but the reference is {want.dtype}{want.shape}"
        bad = np.argwhere(got != want)
        if len(bad):
            at = tuple(int(v) for v in bad[0])
            return f"first differing layer {name}: {len(bad)} values, first at {at}: {got[at]} != {want[at]}"
    return None


# Every 8th fixture by default: the device suite (tests/device) runs every fixture through the same generated C on
# QEMU, every layer compared; all of them here under -m slow.
FIXTURE_STEP = 8


def inputs(fixtures: bool = True, step: int = FIXTURE_STEP) -> dict[str, np.ndarray]:
    every = load_fixtures(ROOT / "fixtures")[::step] if fixtures else []
    images = {f"fixture:{i.name}": i.image() for i in every}
    images.update({f"adversarial:{k}": v for k, v in adversarial_images(240, 320).items()})
    images.update({f"random:{k}": v for k, v in enumerate(synthetic_images(240, 320, 2, seed=99))})
    return images


def check(host: HostModel, image: np.ndarray, name: str) -> None:
    """Both schedules: the layers one after another over the whole image, and the image arriving row by row with
    the streamed layers running between rows (their fingerprinted bands joined)."""
    ref = run_fixed(host.model, image)
    for stream in (False, True):
        check_run(host, host.run(image, stream=stream), ref, f"{name}{' streamed' if stream else ''}")


def check_run(host: HostModel, run, ref, name: str) -> None:
    model = host.model
    assert set(run.layers) == set(ref.fingerprints), name  # the device materialises exactly the visible layers
    assert first_difference(run.layers, ref.layers) is None, f"{name}: {first_difference(run.layers, ref.layers)}"
    cfg, scales = model.config, model.require_quant()["scales"]
    want, total = candidates(cfg, ref.layers, list(host.generated.thresholds), candidate_capacity(cfg))
    assert run.n_candidates == total, name
    assert run.candidates.tobytes() == want.tobytes(), name
    if total <= len(run.candidates):  # every candidate stored: the detections must be the reference's
        got = detect_candidates(cfg, scales, run.candidates)
        assert got == detect(cfg, ref.raw), name


@pytest.fixture(scope="module")
def default_host():
    return HostModel(load(ROOT / "fixtures" / "models" / "default.npz"))


def test_default_model_every_layer_on_sampled_fixtures_and_every_other_input(default_host):
    for name, image in inputs().items():
        check(default_host, image, name)


@pytest.mark.slow
def test_default_model_every_layer_on_every_fixture(default_host):
    for name, image in inputs(step=1).items():
        check(default_host, image, name)


def test_default_model_finds_the_faces(default_host):
    """Not vacuous: on a fixture with faces the device keeps candidates and they decode to detections."""
    image = next(i for i in load_fixtures(ROOT / "fixtures") if i.name == "scenes/scene-009").image()
    run = default_host.run(image)
    assert 0 < run.n_candidates <= len(run.candidates)
    assert len(detect_candidates(default_host.model.config, default_host.model.require_quant()["scales"],
                                 run.candidates)) >= 1


@pytest.mark.parametrize("nonlinearity", ["exact", "hard"])
def test_random_model_every_layer(nonlinearity, tmp_path):
    model = quantize(random_model("rpool-face-m4", seed=4), synthetic_images(240, 320, 4, seed=7))
    model = model.replace(config=dict(model.config, nonlinearity=nonlinearity))
    host = HostModel(model, tmp_path / "gen")
    for name, image in inputs(fixtures=False).items():
        check(host, image, name)


@pytest.mark.parametrize("h, w", [(48, 64), (90, 120)])
def test_small_input_size(tmp_path, h, w):
    """Codegen is not tied to 320x240: a 64x48 model (odd feature-map sizes, stride-2 edges) is exact too, and a
    120x90 one, whose last stem rows no RNNPool patch reads (its replicate row comes in a band of its own)."""
    model = quantize(random_model("rpool-face-m4", seed=11, height=h, width=w), synthetic_images(h, w, 4, seed=3))
    host = HostModel(model, tmp_path / "gen")
    for i, image in enumerate(synthetic_images(h, w, 3, seed=5)):
        check(host, image, f"random:{i}")


def test_a_stem_that_cannot_run_in_place_does_not_stream(tmp_path, monkeypatch):
    """An 8-channel stem writes rows longer than the image rows it consumes, so it cannot run in place, and its rows
    would land on image rows still to arrive: such a model streams nothing (the device says no "stream"), and its
    runs stay exact."""
    import harness.model.random_init as random_init

    real = random_init.build_config

    def eight_channel_stem(*args, **kwargs):
        cfg = real(*args, **kwargs)
        cfg["stem"]["out"] = 8
        return cfg

    monkeypatch.setattr(random_init, "build_config", eight_channel_stem)
    model = quantize(random_model("rpool-face-m4", seed=12, height=96, width=128), synthetic_images(96, 128, 4, seed=3))
    host = HostModel(model, tmp_path / "gen")
    assert host.generated.graph.streamed() == ()
    assert "#define RP_MODEL_N_STREAMED 1" in (host.generated.directory / "model_config.h").read_text()
    for i, image in enumerate(synthetic_images(96, 128, 2, seed=5)):
        check(host, image, f"random:{i}")
