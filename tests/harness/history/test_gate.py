"""The regression gate on realistic runs: deterministic figures against thresholds, noisy cycles with a test."""

from __future__ import annotations

import dataclasses
import zlib

import numpy as np
import pytest

from harness.history.gate import Finding, compare_runs, find_regressions
from harness.history.record import FixtureResult, Run
from harness.history.thresholds import DEFAULTS, Threshold, Thresholds, defaults, parse_table

# 12 layers of the RNNPool face detector and their share of the ~168 M instructions of one inference.
LAYERS = {"stem": 0.06, "rnnpool": 0.22, "mb1": 0.08, "mb2": 0.10, "mb3": 0.16, "mb4": 0.14, "head1.loc": 0.05,
          "head1.conf": 0.05, "head2.loc": 0.04, "head2.conf": 0.04, "head3.loc": 0.03, "candidates": 0.03}
TOTAL = 168_000_000
MODEL_ID = "9f1c2d3e4b5a69788a7b6c5d4e3f2a1b"


def fixture(k: int, repeats: int, scale: dict, noise: float, rng, integral: bool, salt: str) -> FixtureResult:
    cost = 1.0 + 0.015 * (k - 2)  # crowded scenes cost a little more than empty ones
    latency = {}
    for layer, share in LAYERS.items():
        mean = TOTAL * share * cost * scale.get(layer, scale.get("*", 1.0))
        samples = mean * (1.0 + noise * rng.standard_normal(repeats))
        latency[layer] = tuple(float(round(s)) if integral else float(s) for s in samples)
    latency = {"total": tuple(float(sum(v)) for v in zip(*latency.values())), **latency}
    name = f"scenes/scene-{k:03d}"
    prints = {layer: f"{zlib.crc32(f'{name}:{layer}:{salt}'.encode()):08x}" for layer in LAYERS}
    return FixtureResult(name=name, matched=True, fingerprints=prints,
                         detections=((12.0, 20.5, 60.0, 75.25, 0.91),) * (k % 3), latency=latency,
                         stack_bytes=5360 - 8 * (k % 2), fixed_float=(k % 3, k % 3, k % 3 + (k == 4)))


def make_run(fixtures: int = 5, repeats: int = 1, unit: str = "instructions", scale: dict | None = None,
             noise: float = 0.0, seed: int = 0, salt: dict | None = None, first: int = 0, **fields) -> Run:
    """A run over ``fixtures`` scenes; ``scale`` multiplies layers' cost ("*": all), ``salt`` changes fingerprints."""
    rng = np.random.default_rng(seed)
    board = {"board": "nucleo-f429zi", "backend": "pyocd", "runs_on": "ST-LINK 066DFF555051"} if unit == "cycles" \
        else {"board": "qemu-stm32f405", "backend": "qemu", "runs_on": "QEMU 7.2.22 netduinoplus2, -icount shift=0"}
    run = Run(**board, unit=unit, model="face-rnnpool", model_id=MODEL_ID, build_id="5be1c0de", dsp=True,
              commit=f"{seed:040x}", dirty=False, branch="main", time="2025-03-01T12:00:00Z", host="ci-runner",
              compiler="arm-none-eabi-gcc 13.2.1", packages={"python": "3.11.9", "numpy": "2.4.6"},
              flash_bytes=129292, ram_bytes=124040, arena_bytes=110400, ap50=0.85,
              fixtures=tuple(fixture(k, repeats, scale or {}, noise, rng, unit == "instructions",
                                     (salt or {}).get(k, "")) for k in range(first, first + fixtures)),
              repeats=repeats)
    return dataclasses.replace(run, **fields)


def regressed(result) -> list[str]:
    return [f.metric for f in result.regressions]


ORDER = ["latency.total", *(f"latency.layer.{layer}" for layer in LAYERS), "memory.flash_bytes", "memory.ram_bytes",
         "memory.arena_bytes", "memory.stack_bytes", "fingerprints.changed", "agreement.device_reference",
         "agreement.fixed_float", "accuracy.ap50"]


def test_unchanged_rerun_passes_with_every_metric_compared():
    result = compare_runs(make_run(), make_run(seed=1), defaults())
    assert result.ok and result.regressions == () and result.notes == ()
    assert [f.metric for f in result.findings] == ORDER
    assert not any(f.regression for f in result.findings)
    assert result.table() == []


def test_slower_kernel_flags_its_layer_and_the_total():
    result = compare_runs(make_run(), make_run(scale={"mb3": 1.01}), defaults())
    assert regressed(result) == ["latency.total", "latency.layer.mb3"]
    layer = result.regressions[1]
    assert layer.relative == pytest.approx(0.01, abs=1e-6) and layer.threshold == Threshold(0.1, True)
    assert layer.change_text().startswith("+1.00 % (+")


def test_larger_arena_flags_memory_arena_only():
    result = compare_runs(make_run(), make_run(arena_bytes=110400 + 4096), defaults())
    assert regressed(result) == ["memory.arena_bytes"]
    assert result.regressions[0].change_text() == "+4,096"


def test_lower_ap_flags_accuracy_only():
    result = compare_runs(make_run(), make_run(ap50=0.80), defaults())
    assert regressed(result) == ["accuracy.ap50"]
    assert result.regressions[0].change_text() == "-0.0500"


def test_ap_drop_at_the_limit_is_tolerated():
    assert compare_runs(make_run(), make_run(ap50=0.845), defaults()).ok


def test_improvements_are_reported_not_flagged():
    result = compare_runs(make_run(), make_run(scale={"*": 0.9}, arena_bytes=106304, ap50=0.9), defaults())
    assert result.ok
    better = {f.metric for f in result.findings if f.improvement}
    assert {"latency.total", "latency.layer.mb3", "memory.arena_bytes", "accuracy.ap50"} <= better


def test_changed_fingerprints_under_the_same_model_are_a_regression():
    result = compare_runs(make_run(), make_run(salt={1: "x", 3: "y"}), defaults())
    assert regressed(result) == ["fingerprints.changed"]
    assert (result.regressions[0].baseline, result.regressions[0].now) == (0.0, 2.0)


def test_a_new_model_skips_fingerprints_with_a_note():
    result = compare_runs(make_run(), make_run(salt={1: "x"}, model_id="0123456789abcdef0123"), defaults())
    assert result.ok and "fingerprints.changed" not in [f.metric for f in result.findings]
    assert "model changed (9f1c2d3e4b5a → 0123456789ab): fingerprints not compared" in result.notes


def test_noisy_cycles_with_a_real_shift_are_flagged_with_a_small_p():
    base = make_run(repeats=5, unit="cycles", noise=0.01, seed=1)
    result = compare_runs(base, make_run(repeats=5, unit="cycles", noise=0.01, seed=2, scale={"*": 1.05}), defaults())
    assert "latency.total" in regressed(result)
    total = result.findings[0]
    assert total.metric == "latency.total" and total.p_value < 1e-4 and total.threshold == Threshold(2.0, True)


def test_noise_alone_is_not_flagged():
    base = make_run(repeats=5, unit="cycles", noise=0.01, seed=1)
    for seed in range(2, 7):
        result = compare_runs(base, make_run(repeats=5, unit="cycles", noise=0.01, seed=seed), defaults())
        assert result.ok, result.table()
        assert all(f.p_value is not None for f in result.findings if f.metric.startswith("latency."))


def test_a_significant_shift_under_the_threshold_is_not_flagged():
    base = make_run(repeats=5, unit="cycles", noise=0.002, seed=1)
    result = compare_runs(base, make_run(repeats=5, unit="cycles", noise=0.002, seed=2, scale={"*": 1.01}),
                          defaults())
    assert result.findings[0].p_value < 1e-4 and result.ok


def test_one_repeat_on_one_fixture_is_not_evidence():
    base = make_run(fixtures=1, unit="cycles", seed=1)
    result = compare_runs(base, make_run(fixtures=1, unit="cycles", seed=2, scale={"*": 1.05}), defaults())
    total = result.findings[0]
    assert total.relative == pytest.approx(0.05) and total.p_value == pytest.approx(0.5)
    assert result.ok


def test_one_repeat_on_many_fixtures_still_tests():
    base = make_run(fixtures=6, unit="cycles", seed=1)
    result = compare_runs(base, make_run(fixtures=6, unit="cycles", seed=2, scale={"*": 1.05}), defaults())
    assert "latency.total" in regressed(result) and result.findings[0].p_value < 0.01


def test_differing_fixture_sets_compare_on_the_intersection():
    baseline = make_run(fixtures=6)
    run = make_run(fixtures=3, first=3, scale={"mb3": 1.01})
    result = compare_runs(baseline, run, defaults())
    assert "compared on the 3 fixtures both runs have; the baseline has 6, this run 3" in result.notes
    assert any(n.startswith("AP@0.5 not compared") for n in result.notes)
    assert "accuracy.ap50" not in [f.metric for f in result.findings]
    assert "latency.layer.mb3" in regressed(result)
    # The intersection's figures, not the whole baseline's: the same three fixtures unchanged give no change.
    same = compare_runs(baseline, make_run(fixtures=3, first=3), defaults())
    assert same.ok and all(f.change == 0 for f in same.findings)


def test_no_common_fixture_compares_memory_only():
    result = compare_runs(make_run(fixtures=3), make_run(fixtures=2, first=3, arena_bytes=120000), defaults())
    assert [f.metric for f in result.findings] == ["memory.flash_bytes", "memory.ram_bytes", "memory.arena_bytes"]
    assert regressed(result) == ["memory.arena_bytes"]
    assert any("no fixture in common" in n and "only flash, RAM and arena" in n for n in result.notes)


def test_different_units_skip_latency_with_a_note():
    result = compare_runs(make_run(), make_run(unit="cycles", scale={"*": 2.0}), defaults())
    assert not [f for f in result.findings if f.metric.startswith("latency.")]
    assert "latency not compared: the baseline counts instructions, this run cycles" in result.notes


def test_build_differences_are_noted():
    result = compare_runs(make_run(), make_run(dsp=False, compiler="arm-none-eabi-gcc 14.1.0"), defaults())
    assert "this run's kernels are portable C, the baseline's DSP" in result.notes
    assert "this run was compiled with arm-none-eabi-gcc 14.1.0, the baseline with arm-none-eabi-gcc 13.2.1" \
        in result.notes


def test_threshold_overrides_by_exact_name_and_glob():
    slower = make_run(scale={"mb3": 1.01})
    exact = parse_table({"latency.layer.mb3": "2%", "latency.total": "1%"}, "test")
    assert compare_runs(make_run(), slower, exact).ok
    glob = parse_table({"latency.*": "1.5%"}, "test")
    assert compare_runs(make_run(), slower, glob).ok
    narrower = parse_table({"latency.*": "1.5%", "latency.layer.mb*": "0.5%"}, "test")
    assert regressed(compare_runs(make_run(), slower, narrower)) == ["latency.layer.mb3"]
    stack = parse_table({"memory.stack_bytes": 64}, "test")
    deeper = make_run(fixtures=5, first=0)
    deeper = dataclasses.replace(deeper, fixtures=tuple(dataclasses.replace(f, stack_bytes=f.stack_bytes + 64)
                                                        for f in deeper.fixtures))
    assert compare_runs(make_run(), deeper, stack).ok
    assert regressed(compare_runs(make_run(), deeper, defaults())) == ["memory.stack_bytes"]


def test_find_regressions_reports_every_step_and_keeps_keys_apart():
    arena = 110400 + 4096
    a = [make_run(seed=0), make_run(seed=1), make_run(seed=2, arena_bytes=arena), make_run(seed=3, arena_bytes=arena),
         make_run(seed=4, arena_bytes=arena), make_run(seed=5, arena_bytes=arena, scale={"mb3": 1.01})]
    # Another board with a far larger arena and slower latency: compared with a's runs, every one would regress.
    b = [make_run(seed=10 + k, board="stm32f4-discovery", arena_bytes=200000, scale={"*": 1.3}) for k in range(6)]
    b[4] = dataclasses.replace(b[4], ap50=0.7)
    mixed = [run for pair in zip(a, b) for run in pair]
    found = find_regressions(mixed, defaults())
    pairs = [(r.baseline.commit, r.run.commit) for r in found]
    assert pairs == [(a[1].commit, a[2].commit), (b[3].commit, b[4].commit), (a[4].commit, a[5].commit)]
    assert regressed(found[0]) == ["memory.arena_bytes"]
    assert regressed(found[1]) == ["accuracy.ap50"]
    assert regressed(found[2]) == ["latency.total", "latency.layer.mb3"]
    assert find_regressions(a[:2], defaults()) == [] and find_regressions([], defaults()) == []


def test_table_names_metric_values_change_and_threshold():
    result = compare_runs(make_run(), make_run(arena_bytes=114496, ap50=0.80, scale={"mb3": 1.01}), defaults())
    rows = result.table()
    assert rows[0].split() == ["metric", "baseline", "now", "change", "threshold"]
    arena = next(r for r in rows if r.startswith("memory.arena_bytes"))
    assert arena.split() == ["memory.arena_bytes", "110,400", "114,496", "+4,096", "0"]
    ap = next(r for r in rows if r.startswith("accuracy.ap50"))
    assert ap.split() == ["accuracy.ap50", "0.8500", "0.8000", "-0.0500", "0.005"]
    layer = next(r for r in rows if r.startswith("latency.layer.mb3"))
    assert "+1.00 % (+" in layer and layer.endswith("0.1%")
    assert len({len(r) for r in rows}) == 1  # aligned: right-aligned last column, equal widths
    full = result.table(only_regressions=False)
    assert len(full) == len(ORDER) + 1
    assert next(r for r in full if r.startswith("memory.arena_bytes")).endswith("REGRESSION")


def test_noisy_table_has_a_p_column():
    base = make_run(repeats=5, unit="cycles", noise=0.01, seed=1)
    result = compare_runs(base, make_run(repeats=5, unit="cycles", noise=0.01, seed=2, scale={"*": 1.05}), defaults())
    rows = result.table()
    assert rows[0].split()[-1] == "p" and rows[1].startswith("latency.total") and "2%" in rows[1]
    assert "nucleo-f429zi/face-rnnpool" in result.title() and "regressions" in result.title()


def test_finding_change_texts():
    rel = Finding("latency.total", 168_000_000.0, 170_031_456.0, Threshold(0.1, True), True)
    assert rel.change_text() == "+1.21 % (+2,031,456)"
    assert Finding("accuracy.ap50", 0.85, 0.838, Threshold(0.005, False), True).change_text() == "-0.0120"
    assert Finding("memory.arena_bytes", 110400, 114496, Threshold(0, False), True).change_text() == "+4,096"
    zero = Finding("fingerprints.changed", 0.0, 3.0, Threshold(0, False), True)
    assert zero.relative is None and zero.change == 3.0 and zero.change_text() == "+3"
    assert Finding("memory.ram_bytes", 0, 10, Threshold(1, True), True).change_text() == "+10"


def test_defaults_cover_every_family():
    assert set(DEFAULTS) == {"instructions", "memory", "fingerprints", "agreement", "ap50", "fixed_float", "cycles"}
    assert isinstance(defaults(), Thresholds)
