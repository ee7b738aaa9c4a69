"""The registry of run metrics: one frozen record per metric, one flat namespace shared by the store, gate, CLI and
report. Everything else derives from ``METRICS``: a run's metrics (record.run_metrics), the gated metrics and the
threshold defaults (thresholds.py), what the gate compares and in which order (gate.py), the report's plots
(report.py) and the columns of ``harness history`` (harness/cli/history.py).

Adding a gated metric: append a ``Metric`` to ``METRICS`` with its ``value`` (how a Run gives it); a new threshold
family also needs ``default``. Besides, only the value's source may change (e.g. a Run field that collect.py fills);
tests/harness/history/test_metrics.py shows it. Latency is the exception: gate._latency compares latency.total and
latency.layer.<layer> itself (on boards with a significance test over each fixture's repeats).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # record.py imports this module
    from harness.history.record import Run

# Units (``Metric.unit``); TICKS stands for the run's latency unit: instructions (emulators) or cycles (boards).
TICKS, BYTES, FRACTION, FIXTURES = "ticks", "bytes", "fraction", "fixtures"
LATENCY = "latency"  # not a family: "instructions" or "cycles" by the run's unit

# Threshold families → default threshold, written as pyproject.toml [tool.harness.thresholds] writes it.
FAMILIES: dict[str, str | float] = {
    "instructions": "0.1%",  # emulator instruction counts: deterministic, near-exact
    "memory": 0,             # bytes: exact
    "fingerprints": 0,       # fixtures whose layer fingerprints changed under the same model
    "agreement": 0,          # drop in the fraction bit-exact with the fixed-point reference
    "ap50": 0.005,           # drop in AP@0.5 (absolute)
    "fixed_float": 0.01,     # drop in fixed-point vs float detection agreement (absolute)
    "cycles": "2%",          # real boards: noisy, so also a significance test at ``alpha``
}
# Namespaces (a name's first part) in the order the report and ``harness history`` show them; a namespace not
# listed follows these. The gate keeps the order of METRICS.
ROOTS = ("latency", "memory", "accuracy", "agreement", "fingerprints")


@dataclass(frozen=True)
class Metric:
    name: str              # "<namespace>.<what>", e.g. "memory.stack_bytes"
    unit: str              # TICKS, BYTES, FRACTION or FIXTURES
    lower_is_better: bool
    family: str            # threshold family: a key of FAMILIES, a new one (with ``default``) or LATENCY
    label: str             # short heading: a column of ``harness history``
    value: Callable[[Run], float | None] | None = None  # from one run (None: left out); None: the gate computes it
    default: str | float | None = None  # a new family's default threshold, e.g. 0.01 or "1%"
    gated: bool = True     # False: recorded and plotted with another metric, never compared
    fixtures: bool = True  # computed over the fixtures: compared only when the two runs share some
    missing: str = "has no value for it"  # the gate's note when only one of two runs has it

    @property
    def root(self) -> str:
        return self.name.split(".")[0]


# -- values from one run ----------------------------------------------------------------------------------------


def _totals(run: Run) -> list[float]:
    """Each fixture's median over its repeats."""
    return [f.median() for f in run.fixtures]


def _median(values: list[float]) -> float | None:
    import numpy as np  # here: the CLI imports this module at start

    return float(np.median(values)) if values else None


def _total(run: Run) -> float | None:
    return _median(_totals(run))


def _total_min(run: Run) -> float | None:
    return float(min(t)) if (t := _totals(run)) else None


def _total_max(run: Run) -> float | None:
    return float(max(t)) if (t := _totals(run)) else None


def _total_spread(run: Run) -> float | None:
    """Interquartile range of the fixtures' totals over their median."""
    import numpy as np

    if not (totals := _totals(run)):
        return None
    q1, q3 = np.percentile(totals, [25, 75])
    return float((q3 - q1) / np.median(totals)) if np.median(totals) else 0.0


def _stack(run: Run) -> float | None:
    return max(f.stack_bytes for f in run.fixtures) if run.fixtures else None  # high-water mark


def _device_reference(run: Run) -> float | None:
    fx = run.fixtures
    return sum(f.matched for f in fx) / len(fx) if fx else None


def _fixed_float(run: Run) -> float | None:
    """2·matched / (fixed + float) detections at IoU ≥ 0.5, pooled over the fixtures."""
    matched, fixed, flt = (sum(f.fixed_float[i] for f in run.fixtures) for i in range(3))
    return 2.0 * matched / (fixed + flt) if fixed + flt else None


TOTAL = "latency.total"            # median over fixtures of each fixture's median over repeats
FLASH, RAM, ARENA, STACK = "memory.flash_bytes", "memory.ram_bytes", "memory.arena_bytes", "memory.stack_bytes"
FINGERPRINTS = "fingerprints.changed"       # fixtures whose layer fingerprints changed (same model only)
DEVICE_REFERENCE = "agreement.device_reference"  # fraction of fixtures bit-exact with the fixed-point reference
FIXED_FLOAT = "agreement.fixed_float"
AP50 = "accuracy.ap50"             # AP@0.5 of the device's detections against the labels (None: unlabelled)

# The registry. Its order is the gate's (and GATED's); ROOTS orders what is shown.
METRICS: tuple[Metric, ...] = (
    Metric(TOTAL, TICKS, True, LATENCY, "latency", _total),
    Metric(TOTAL + ".min", TICKS, True, LATENCY, "min", _total_min, gated=False),
    Metric(TOTAL + ".max", TICKS, True, LATENCY, "max", _total_max, gated=False),
    Metric(TOTAL + ".spread", FRACTION, True, LATENCY, "spread", _total_spread, gated=False),
    Metric(FLASH, BYTES, True, "memory", "flash", lambda run: run.flash_bytes, fixtures=False),
    Metric(RAM, BYTES, True, "memory", "RAM", lambda run: run.ram_bytes, fixtures=False),
    Metric(ARENA, BYTES, True, "memory", "arena", lambda run: run.arena_bytes, fixtures=False),
    Metric(STACK, BYTES, True, "memory", "stack", _stack),
    Metric(FINGERPRINTS, FIXTURES, True, "fingerprints", "prints"),  # value: gate.py, from two runs
    Metric(DEVICE_REFERENCE, FRACTION, False, "agreement", "dev=ref", _device_reference),
    Metric(FIXED_FLOAT, FRACTION, False, "fixed_float", "fix~flt", _fixed_float,
           missing="has no detections to compute it from"),
    Metric(AP50, FRACTION, False, "ap50", "AP@0.5", lambda run: run.ap50),
)

# latency.layer.<layer>: one metric per layer the firmware times, all alike (values: layer_latencies).
LAYER_PREFIX = "latency.layer."
LAYER = Metric(LAYER_PREFIX + "<layer>", TICKS, True, LATENCY, "layer")


def layer_latencies(run: Run) -> dict[str, float]:
    """latency.layer.<layer> → median over fixtures of each fixture's median, for the first fixture's layers."""
    if not run.fixtures:
        return {}
    layers = [k for k in run.fixtures[0].latency if k != "total"]
    return {LAYER_PREFIX + layer: _median([f.median(layer) for f in run.fixtures if layer in f.latency])
            for layer in layers}


def is_layer(name: str) -> bool:
    return name.startswith(LAYER_PREFIX) and len(name) > len(LAYER_PREFIX)


# -- derived views (functions: they read METRICS when called) ---------------------------------------------------


def get(name: str) -> Metric | None:
    """The metric called ``name`` (LAYER for any latency.layer.<layer>), None for an unknown name."""
    found = next((m for m in METRICS if m.name == name), None)
    return LAYER if found is None and is_layer(name) else found


def gated() -> tuple[Metric, ...]:
    return tuple(m for m in METRICS if m.gated)


def roots() -> tuple[str, ...]:
    return tuple(dict.fromkeys([*ROOTS, *(m.root for m in METRICS)]))


def shown() -> tuple[Metric, ...]:
    """The gated metrics one run gives, as the report plots them and ``harness history`` tabulates them."""
    order = roots()
    return tuple(sorted((m for m in gated() if m.value is not None), key=lambda m: order.index(m.root)))


def lower_is_better(name: str) -> bool:
    """A registered metric's direction; an unknown name takes its namespace's (higher is better otherwise)."""
    if (m := get(name)) is not None:
        return m.lower_is_better
    return any(m.lower_is_better for m in METRICS if m.root == name.split(".")[0])


def is_fraction(name: str) -> bool:
    return (m := get(name)) is not None and m.unit == FRACTION


def family_defaults() -> dict[str, str | float]:
    """FAMILIES and the families the metrics open; ValueError when the registry contradicts itself."""
    out = dict(FAMILIES)
    names = [m.name for m in METRICS]
    if len(set(names)) != len(names):
        raise ValueError(f"metrics registered twice: {sorted({n for n in names if names.count(n) > 1})}")
    for m in METRICS:
        if m.default is not None:
            if out.get(m.family, m.default) != m.default or m.family == LATENCY:
                raise ValueError(f"{m.name}: default {m.default!r} for family {m.family!r}, which has its own")
            out[m.family] = m.default
        elif m.family not in out and m.family != LATENCY:
            raise ValueError(f"{m.name}: family {m.family!r} is new; give the metric a default threshold")
    return out
