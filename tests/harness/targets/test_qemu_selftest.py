"""`harness selftest` on QEMU's STM32F405: the generated firmware computes every layer bit for bit as the
reference, in the DSP and the portable build, for the default and a random-weight model; memory and timing are
reported and recorded in firmware.json."""

import json
import time
from pathlib import Path

import cv2
import pytest

from harness.build.firmware import build_firmware
from harness.cli import main
from harness.compare.selftest import run_selftest
from harness.model.modelfile import load
from harness.model.quantize import quantize
from harness.model.random_init import random_model
from harness.model.synthetic import adversarial_images, synthetic_images
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR

ROOT = Path(__file__).resolve().parents[3]
SCENE = ROOT / "fixtures" / "scenes" / "scene-009.png"


@pytest.fixture(scope="module")
def default():
    return load(ROOT / "fixtures" / "models" / "default.npz")


# The portable C on the M4 under -m slow: the same C is held bit-exact on the host (tests/harness/native).
@pytest.mark.parametrize("dsp", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["dsp", "portable"])
def test_default_model_bit_exact_on_qemu(default, dsp):
    out = run_selftest(default, cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE), dsp=dsp)
    assert out.verdict.match, out.verdict.problems
    assert [c.name for c in out.verdict.layers][-1] == "candidates" and len(out.verdict.layers) == 18
    assert len(out.verdict.detections) >= 1 and out.verdict.detections == out.verdict.reference
    info = json.loads(out.build.json_path.read_text())
    assert info["ram_bytes"] <= 192 * 1024 and info["arena_bytes"] == out.report.arena_bytes
    assert 0 < out.report.stack_bytes < info["stack_reserve"]
    assert info["measured"]["stack_high_water"] == out.report.stack_bytes
    assert info["measured"]["instructions"] == out.report.total_ticks > 1_000_000
    assert out.report.build_id == info["build_id"] and len(info["build_id"]) == 40


# The hard nonlinearities' C is also held bit-exact on the host (tests/harness/native); one adversarial input
# covers their DSP path here, the exact ones get two.
@pytest.mark.parametrize("nonlinearity, names", [("exact", ("checker", "full")), ("hard", ("checker",))],
                         ids=["exact", "hard"])
def test_random_model_adversarial_inputs(nonlinearity, names):
    model = quantize(random_model("rpool-face-m4", seed=4, nonlinearity=nonlinearity),
                     synthetic_images(240, 320, 4, seed=7))
    for name in names:
        out = run_selftest(model, adversarial_images(240, 320)[name])
        assert out.verdict.match, (name, out.verdict.problems)


def test_second_build_is_cached_and_fast(default):
    image = cv2.imread(str(SCENE), cv2.IMREAD_GRAYSCALE)
    first = build_firmware(default, image=image)
    t = time.perf_counter()
    again = build_firmware(default, image=image)
    assert again.cached and again.elf == first.elf and time.perf_counter() - t < 1.0


def test_cli_selftest_json(default, capsys):
    assert main(["selftest", "--image", str(SCENE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["match"] is True and out["instructions"] > 0 and out["arena_bytes"] > 0
    assert {"ram_bytes", "stack_bytes", "layers"} <= set(out) and out["layers"][0]["name"] == "stem"


def test_cli_bench_firmware_json_reports_each_layer_against_its_floor(default, capsys):
    """Issue 17's yardstick: per layer the instructions, the MACs as performed, the compulsory bytes and the floor
    MACs / 2 + bytes / 4 with the ratio to it."""
    assert main(["bench", "firmware", "--image", str(SCENE), "--json"]) == 0
    out = json.loads(capsys.readouterr().out)
    layers = {d["name"]: d for d in out["layers"]}
    for d in out["layers"]:
        assert d["floor"] == round(d["macs"] / 2 + d["loads"] / 4) and d["loads"] > 0, d
        assert d["floor_ratio"] == round(d["instructions"] / (d["macs"] / 2 + d["loads"] / 4), 2) > 1, d
    assert layers["rnnpool"]["macs"] == 31_966_208  # not the graph's 42,389,504: dedupe and h = 0 (numerics §4.3)
    mb0 = sum(a.nbytes for k, a in default.arrays.items() if k.startswith("q/mb0."))  # its integer parameters
    assert layers["mb0"]["loads"] == 30 * 40 * 64 + mb0 and mb0 > 64 * 128 + 128 * 9 + 128 * 32  # input + weights
    assert out["floor"] == round(sum(d["macs"] / 2 + d["loads"] / 4 for d in out["layers"]))
    assert out["instructions"] == sum(d["instructions"] for d in out["layers"])


@pytest.mark.parametrize("names", [("full", "checker", "noise"),
                                   pytest.param(("zeros", "hgradient", "vgradient"), marks=pytest.mark.slow)],
                         ids=["extremes", "smooth"])
def test_dsp_build_bit_exact_on_the_adversarial_inputs(default, names):
    """The DSP path (only the emulator runs it) over the adversarial inputs: the saturating ones by default, the
    smooth ones too under -m slow. Every fixture image goes through the same DSP build in the device suite
    (tests/device, ``--board=qemu-stm32f405``), so it is not run twice here."""
    failures = []
    for name in names:
        image = adversarial_images(240, 320)[name]
        out = run_selftest(default, image)
        if not out.verdict.match:
            failures.append(f"{name}: {'; '.join(out.verdict.problems)}")
    assert not failures, failures
