"""What one recorded run is: where it was made (commit, board, toolchain), what every fixture gave (fingerprints,
detections, latency samples) and what the build used (flash, RAM, arena). Runs are frozen records; the stores
(harness.history.store) keep them, the gate compares them, the report plots their metrics.

Metric names and how a run gives each (``run_metrics``): harness/history/metrics.py.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterable
from dataclasses import dataclass, field

import numpy as np

from harness.history import metrics

FORMAT = "harness-run/1"


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
    ran_on: dict[str, str] = field(default_factory=dict)  # a farm's place, exporter, exporter_host, probe

    def median(self, key: str = "total") -> float:
        return float(np.median(self.latency[key]))

    @staticmethod
    def from_dict(f: dict) -> FixtureResult:
        """The inverse of dataclasses.asdict (JSON turns the tuples into lists)."""
        return FixtureResult(**{**f, "detections": tuple(tuple(x) for x in f["detections"]),
                                "latency": {k: tuple(v) for k, v in f["latency"].items()},
                                "fixed_float": tuple(f.get("fixed_float", (0, 0, 0))),
                                "ran_on": dict(f.get("ran_on") or {})})


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


def run_metrics(run: Run) -> dict[str, float]:
    """The run's metrics by name (harness/history/metrics.py); a metric with nothing to measure is left out."""
    out = {m.name: m.value(run) for m in metrics.METRICS if m.value is not None}
    out.update(metrics.layer_latencies(run))
    return {k: float(v) for k, v in out.items() if v is not None}
