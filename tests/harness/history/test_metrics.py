"""The metric registry (harness/history/metrics.py): it gives today's names, orders and thresholds, and a metric
added there alone is gated, thresholded (default and pyproject.toml override), plotted and tabulated."""

from __future__ import annotations

import dataclasses
import importlib
import subprocess
import sys
import tomllib
import types
from pathlib import Path

import pytest

import harness.history
from harness.history import metrics
from harness.history.thresholds import parse_threshold
from tests.harness.history.test_gate import make_run

ROOT = Path(__file__).resolve().parents[3]

# What a developer adding two metrics writes in harness/history/metrics.py (here appended to a copy of it): one in
# a new family with its own default, one in the memory family that needs no fixture. Their values come from
# Run.extra so that nothing else changes; a real metric would fill a Run field in collect.py.
ENTRIES = '''

def _recall(run):
    return run.extra.get("recall")


METRICS = (*METRICS,
           Metric("accuracy.recall", FRACTION, False, "recall", "recall", _recall, default=0.01),
           Metric("memory.bss_bytes", BYTES, True, "memory", "bss", lambda run: run.extra.get("bss_bytes"),
                  fixtures=False))
'''


PREFIXES = ("harness.history.", "harness.cli")  # the modules that read the registry, directly or not


def _forget(name: str) -> None:
    parent, _, child = name.rpartition(".")
    if hasattr(sys.modules.get(parent), child):
        delattr(sys.modules[parent], child)
    del sys.modules[name]


@pytest.fixture
def registry_with(monkeypatch):
    """Import harness.history's modules and the CLI afresh over a copy of metrics.py with ``entries`` appended;
    everything is put back after the test (a module first imported meanwhile is forgotten again)."""
    before = set(sys.modules)

    def load(entries: str) -> types.SimpleNamespace:
        stale = [n for n in sys.modules if n.startswith(PREFIXES)]
        parents = {n: sys.modules[n.rpartition(".")[0]] for n in stale}
        for name in stale:
            monkeypatch.delattr(parents[name], name.rpartition(".")[2], raising=False)
            monkeypatch.delitem(sys.modules, name)
        path = Path(metrics.__file__)
        module = types.ModuleType("harness.history.metrics")
        module.__file__ = str(path)
        monkeypatch.setitem(sys.modules, module.__name__, module)
        exec(compile(path.read_text(encoding="utf-8") + entries, str(path), "exec"), module.__dict__)
        monkeypatch.setattr(harness.history, "metrics", module, raising=False)
        names = ("record", "thresholds", "gate", "report", "store")
        return types.SimpleNamespace(metrics=module, cli=importlib.import_module("harness.cli"),
                                     **{n: importlib.import_module(f"harness.history.{n}") for n in names})

    yield load
    for name in sorted(set(sys.modules) - before, reverse=True):  # before monkeypatch puts the others back
        if name.startswith(PREFIXES):
            _forget(name)


def test_the_registry_gives_todays_names_orders_and_defaults():
    from harness.cli.history import COLUMNS
    from harness.history.report import METRIC_ORDER
    from harness.history.thresholds import DEFAULTS, GATED

    assert GATED == ("latency.total", "memory.flash_bytes", "memory.ram_bytes", "memory.arena_bytes",
                     "memory.stack_bytes", "fingerprints.changed", "agreement.device_reference",
                     "agreement.fixed_float", "accuracy.ap50")
    assert METRIC_ORDER == ("latency.total", "memory.flash_bytes", "memory.ram_bytes", "memory.arena_bytes",
                            "memory.stack_bytes", "accuracy.ap50", "agreement.device_reference",
                            "agreement.fixed_float")
    assert [label for label, _ in COLUMNS] == ["latency", "flash", "RAM", "arena", "stack", "AP@0.5", "dev=ref",
                                               "fix~flt"]
    assert [name for _, name in COLUMNS] == list(METRIC_ORDER)
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["harness"]["thresholds"]
    stated = {k: parse_threshold(v, "pyproject.toml", k) for k, v in table.items() if k != "alpha"}
    assert stated == DEFAULTS and list(DEFAULTS) == list(metrics.FAMILIES)
    assert metrics.get("latency.layer.mb3") is metrics.LAYER and metrics.get("latency.layer.") is None
    assert [metrics.lower_is_better(n) for n in ("latency.layer.mb3", "memory.stack_bytes", "accuracy.ap50",
                                                 "fingerprints.changed", "agreement.fixed_float")] == [
        True, True, False, True, False]


def test_a_registry_that_contradicts_itself_is_refused(monkeypatch):
    twice = metrics.METRICS + (metrics.METRICS[-1],)
    monkeypatch.setattr(metrics, "METRICS", twice)
    with pytest.raises(ValueError, match="registered twice"):
        metrics.family_defaults()
    orphan = metrics.Metric("accuracy.recall", metrics.FRACTION, False, "recall", "recall")
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS[:-1], orphan))
    with pytest.raises(ValueError, match="family 'recall' is new; give the metric a default"):
        metrics.family_defaults()
    clash = dataclasses.replace(orphan, family="memory", default=64)
    monkeypatch.setattr(metrics, "METRICS", (*metrics.METRICS[:-1], clash))
    with pytest.raises(ValueError, match="which has its own"):
        metrics.family_defaults()


def test_a_metric_added_to_the_registry_alone_is_gated_thresholded_plotted_and_listed(registry_with, tmp_path,
                                                                                      monkeypatch, capsys):
    new = registry_with(ENTRIES)
    recall, bss = "accuracy.recall", "memory.bss_bytes"
    Threshold = new.thresholds.Threshold  # the fresh module's class: classes are re-created

    # gated, in the registry's order; thresholded by its family's default, or its own
    assert new.thresholds.GATED[-3:] == ("accuracy.ap50", recall, bss)
    t = new.thresholds.defaults()
    assert new.thresholds.DEFAULTS["recall"] == t.for_metric(recall, "instructions") == Threshold(0.01, False)
    assert t.for_metric(bss, "cycles") == Threshold(0, False)
    assert new.thresholds.load_thresholds(ROOT / "pyproject.toml").rules == new.thresholds.DEFAULTS
    # ... and pyproject.toml overrides both ways: the family, or the metric by name
    (tmp_path / "pyproject.toml").write_text('[tool.harness.thresholds]\nrecall = 0.05\n')
    (tmp_path / "by-name.toml").write_text('[tool.harness.thresholds]\n"accuracy.recall" = "5%"\n'
                                           'memory.bss_bytes = 16\n')
    custom = new.thresholds.load_thresholds(tmp_path / "pyproject.toml")
    assert custom.for_metric(recall, "instructions") == Threshold(0.05, False)
    assert custom.for_metric("accuracy.ap50", "instructions") == Threshold(0.005, False)
    by_name = new.thresholds.load_thresholds(tmp_path / "by-name.toml")
    assert by_name.for_metric(recall, "instructions") == Threshold(5, True)
    assert by_name.for_metric(bss, "instructions") == Threshold(16, False)

    # the gate compares them: higher recall is better, fewer bss bytes are
    base = make_run(extra={"recall": 0.90, "bss_bytes": 2048})
    worse = make_run(seed=1, extra={"recall": 0.88, "bss_bytes": 2056})
    result = new.gate.compare_runs(base, worse, t)
    assert [f.metric for f in result.findings][-3:] == ["accuracy.ap50", recall, bss]
    assert [f.metric for f in result.regressions] == [recall, bss]
    assert any(line.split()[:4] == [recall, "0.9000", "0.8800", "-0.0200"] for line in result.table())
    assert [f.metric for f in new.gate.compare_runs(base, worse, custom).regressions] == [bss]
    apart = new.gate.compare_runs(base, make_run(first=10, extra={"bss_bytes": 2048}), t)
    assert [f.metric for f in apart.findings] == ["memory.flash_bytes", "memory.ram_bytes", "memory.arena_bytes",
                                                  bss]
    assert "only flash, RAM, arena and bss compared" in apart.notes[0]
    lacking = new.gate.compare_runs(make_run(), worse, t)
    assert f"{recall} not compared: the baseline has no value for it" in lacking.notes

    # the report plots them in their namespace's place, and tables the regression
    assert new.report.METRIC_ORDER[4:8] == ("memory.stack_bytes", bss, "accuracy.ap50", recall)
    page = new.report.render_report([base, dataclasses.replace(worse, time="2025-03-02T12:00:00Z")], t)
    assert f"data-metrics='{recall}'" in page and f"data-metrics='{bss}'" in page
    assert f"<td>{recall}</td><td class='n'>0.9000</td>" in page

    # `harness history` has their columns; `harness compare` gates them under the project's thresholds
    with new.store.open_store(tmp_path / "h.sqlite") as store:
        store.add(base)
        store.add(worse)
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)  # its pyproject.toml is the project's
    monkeypatch.chdir(tmp_path)
    assert new.cli.main(["history", "--history", "h.sqlite"]) == 0
    lines = capsys.readouterr().out.splitlines()
    header, newest = lines[1].split(), lines[2].split()  # "time (UTC)" and the time are two words each
    assert header[-5:-1] == ["bss", "AP@0.5", "recall", "dev=ref"]
    assert newest[header.index("recall")] == "0.880" and newest[header.index("bss")] == "2,056"
    assert new.cli.main(["compare", "#1", "#2", "--history", "h.sqlite"]) == 1  # the pyproject.toml above
    out = capsys.readouterr().out
    assert [line.split()[0] for line in out.splitlines() if "REGRESSION" in line] == [bss]
    assert any(line.split()[:3] == [recall, "0.9000", "0.8800"] for line in out.splitlines())

    monkeypatch.undo()  # the modules as they were: the metrics were never registered
    assert recall not in importlib.import_module("harness.history.thresholds").GATED
