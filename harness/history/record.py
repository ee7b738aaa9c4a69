"""What one recorded run is: where it was made (commit, board, toolchain), what every fixture gave (fingerprints,
detections, latency samples) and what the build used (flash, RAM, arena). Runs are frozen records; the stores
(harness.history.store) keep them, the gate compares them, the report plots their metrics.

Metric names (``run_metrics``), one flat namespace shared by the store, gate, CLI and report:
  latency.total, latency.layer.<layer>   median over fixtures of each fixture's median over repeats
  latency.total.min / .max / .spread     spread = interquartile range of the fixtures' totals / their median
  memory.flash_bytes, memory.ram_bytes, memory.arena_bytes, memory.stack_bytes (stack: high-water, max)
  accuracy.ap50                          AP@0.5 of the device's detections against the labels (None: unlabelled)
  agreement.device_reference             fraction of fixtures bit-exact with the fixed-point reference
  agreement.fixed_float                  2·matched / (fixed + float) detections at IoU ≥ 0.5, pooled
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

FORMAT = "harness-run/1"
LOWER_IS_BETTER = ("latency.", "memory.", "fingerprints.")  # every other metric: higher is better


@dataclass(frozen=True)
class FixtureResult:
    """One fixture image on the device."""

    name: str                                    # e.g. "scenes/scene-003"
    matched: bool                                # every layer and the detections equal the reference's
    fingerprints: dict[str, str]                 # layer → the device's CRC-32, 8 hex digits
    detections: tuple[tuple[float, ...], ...]    # the device's (x0, y0, x1, y1, score), model pixels
    latency: dict[str, tuple[float, ...]]        # "total" and each layer → one sample per repeat (ticks)
    stack_bytes: int
    fixed_float: tuple[int, int, int] = (0, 0, 0)  # (matched, fixed, float) reference detections at IoU ≥ 0.5

    def median(self, key: str = "total") -> float:
        return float(np.median(self.latency[key]))

    @staticmethod
    def from_dict(f: dict) -> FixtureResult:
        """The inverse of dataclasses.asdict (JSON turns the tuples into lists)."""
        return FixtureResult(**{**f, "detections": tuple(tuple(x) for x in f["detections"]),
                                "latency": {k: tuple(v) for k, v in f["latency"].items()},
                                "fixed_float": tuple(f.get("fixed_float", (0, 0, 0)))})


@dataclass(frozen=True)
class Run:
    """One recorded run: a board running one model's firmware over a set of fixtures."""

    board: str              # boards.yaml name
    backend: str            # qemu, renode, pyocd
    runs_on: str            # what really ran it: "QEMU 7.2.22 netduinoplus2, -icount shift=0", a probe's id…
    unit: str               # latency unit: instructions (emulators) or cycles (boards)
    model: str              # the model's name (its file's stem): what baselines are kept per
    model_id: str           # the model's content hash
    build_id: str           # the firmware ELF's build id
    dsp: bool               # DSP kernels (False: portable C)
    commit: str             # full sha, "" outside git
    dirty: bool             # the work tree had uncommitted changes
    branch: str
    time: str               # ISO 8601, UTC
    host: str
    compiler: str
    packages: dict[str, str]  # python, harness, numpy, … → version
    flash_bytes: int
    ram_bytes: int
    arena_bytes: int
    ap50: float | None      # over exactly these fixtures; None when they carry no labelled face
    fixtures: tuple[FixtureResult, ...]
    repeats: int = 1
    id: int | None = None   # given by the store
    extra: dict = field(default_factory=dict)

    @property
    def key(self) -> tuple[str, str]:
        return self.board, self.model

    def fixture_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fixtures)

    def restricted(self, names: Iterable[str]) -> Run:
        """The same run over only the named fixtures (AP, which needs the labels, is dropped unless all stay)."""
        keep = set(names)
        fixtures = tuple(f for f in self.fixtures if f.name in keep)
        ap = self.ap50 if len(fixtures) == len(self.fixtures) else None
        return dataclasses.replace(self, fixtures=fixtures, ap50=ap)

    def as_dict(self) -> dict:
        d = dataclasses.asdict(self)
        d["format"] = FORMAT
        return d

    @staticmethod
    def from_dict(d: dict) -> Run:
        d = {k: v for k, v in d.items() if k != "format"}
        fixtures = tuple(FixtureResult.from_dict(f) for f in d.pop("fixtures"))
        return Run(**d, fixtures=fixtures)


def _median(values: list[float]) -> float | None:
    return float(np.median(values)) if values else None


def run_metrics(run: Run) -> dict[str, float]:
    """The run's metrics by name (see the module docstring); a metric with nothing to measure is left out."""
    out: dict[str, float] = {"memory.flash_bytes": run.flash_bytes, "memory.ram_bytes": run.ram_bytes,
                             "memory.arena_bytes": run.arena_bytes}
    fx = run.fixtures
    if fx:
        totals = [f.median() for f in fx]
        q1, q3 = np.percentile(totals, [25, 75])
        out.update({"latency.total": _median(totals), "latency.total.min": float(min(totals)),
                    "latency.total.max": float(max(totals)),
                    "latency.total.spread": float((q3 - q1) / np.median(totals)) if np.median(totals) else 0.0})
        layers = [k for k in fx[0].latency if k != "total"]
        for layer in layers:
            values = [f.median(layer) for f in fx if layer in f.latency]
            out[f"latency.layer.{layer}"] = _median(values)
        out["memory.stack_bytes"] = max(f.stack_bytes for f in fx)
        out["agreement.device_reference"] = sum(f.matched for f in fx) / len(fx)
        matched, fixed, flt = (sum(f.fixed_float[i] for f in fx) for i in range(3))
        if fixed + flt:
            out["agreement.fixed_float"] = 2.0 * matched / (fixed + flt)
    if run.ap50 is not None:
        out["accuracy.ap50"] = run.ap50
    return {k: float(v) for k, v in out.items() if v is not None}


def lower_is_better(metric: str) -> bool:
    return metric.startswith(LOWER_IS_BETTER)
