"""Codegen: the device graph, the arena plan it implies and the generated files' framing."""

from pathlib import Path

import numpy as np
import pytest

from harness.codegen.generate import generate, plan_model
from harness.codegen.plan import lower_bound, overlaps
from harness.model.candidates import head_thresholds
from harness.model.fixed_ref import device_layers
from harness.model.modelfile import load
from harness.model.quantize import quantize
from harness.model.random_init import random_model
from harness.model.synthetic import synthetic_images

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def default():
    return load(ROOT / "fixtures" / "models" / "default.npz")


def test_graph_runs_every_device_layer_once(default):
    graph, _ = plan_model(default)
    names = [s.name for s in graph.steps]
    assert sorted(names[:-1]) == sorted(device_layers(default.config)) and names[-1] == "candidates"
    # a head runs after the block it reads and before the next block
    assert names.index("head1.loc") < names.index("mb2") and names.index("mb1") < names.index("l2norm1")


def test_m4_arena_is_optimal_and_fits_a_real_f405(default):
    graph, mp = plan_model(default)
    assert overlaps(mp) == []
    bound = lower_bound(graph.buffers())
    assert mp.arena_bytes == -(-bound // 4) * 4  # greedy reaches the bound for this schedule (the arena is aligned)
    # stem, RNNPool and every MBConv block run in place: with the 8 KB stack it fits the F405's 128 KB SRAM
    groups = {b.name: b.group for b in graph.buffers()}
    assert {groups[n] for n in ("input", "stem", "rnnpool", "mb0", "mb1", "mb2", "mb3")} == {"input"}
    assert mp.arena_bytes + 8 * 1024 < 120 * 1024


def test_generated_files_are_marked_and_deterministic(default, tmp_path):
    a = generate(default, tmp_path / "a")
    b = generate(default, tmp_path / "b")
    for fa, fb in zip(a.files, b.files):
        text = fa.read_text()
        assert text.startswith("/* generated — do not edit. model " + default.model_id)
        assert text == fb.read_text()
    assert f"#define RP_MODEL_ARENA_BYTES {a.plan.arena_bytes}" in (tmp_path / "a" / "model_config.h").read_text()


def test_different_models_give_different_code(default, tmp_path):
    other = quantize(random_model("rpool-face-m4", seed=2), synthetic_images(240, 320, 2, seed=1))
    a, b = generate(default, tmp_path / "a"), generate(other, tmp_path / "b")
    assert a.files[1].read_text() != b.files[1].read_text()


def test_head_thresholds_are_conservative(default):
    """Every integer difference whose float score reaches the threshold passes the device's integer test."""
    cfg, scales = default.config, default.require_quant()["scales"]
    t = cfg["detection"]["score_thresh"]
    for j, thr in enumerate(head_thresholds(cfg, scales)):
        s = scales[f"head{j}.conf"]
        d = np.arange(thr - 50, thr + 50)
        score = 1.0 / (1.0 + np.exp(-(np.float32(d * s)).astype(np.float64)))
        assert not np.any((score >= t) & (d < thr))
        assert np.any(d >= thr)  # and the test is not vacuous: the boundary lies in this window


def test_memory_separate_gives_only_the_named_layers_their_own_space():
    import copy

    model = load(Path(__file__).resolve().parents[3] / "fixtures" / "models" / "default.npz")
    base = plan_model(model)[1].arena_bytes
    config = copy.deepcopy(model.config)
    config["memory"] = {"separate": ["mb1"]}
    graph, mp = plan_model(model.replace(config=config))
    at = {p.buffer.name: p for p in mp.placements}
    assert at["mb1"].offset >= at["mb0"].end or at["mb1"].end <= at["mb0"].offset  # mb1's output beside its input
    group = {name: at[name].buffer.group for name in ("mb0", "mb1", "mb2", "mb3")}
    assert group["mb1"] != group["mb0"] and group["mb3"] == group["mb2"] == group["mb1"]  # the others in place
    assert mp.arena_bytes >= base
    config["memory"] = {"in_place": False}
    assert plan_model(model.replace(config=config))[1].arena_bytes > base + 1920
