"""Per-layer latency prediction: each device layer's work, per-kind cost coefficients fitted to measured ticks, and
a check that names the layers running slower than predicted.

A layer's cost is linear in a few work features of its kind (all derived from the model, never measured): each
layer kind (harness/model/kinds/) names its ``features`` and computes them in ``work``; its module docstring says
what they count. ``macs``/``generic_macs`` split a layer's multiply-accumulates by the kernel path it takes, which
the firmware chooses from the model alone: a random-weight model or a narrow input can take the slower path, and
one coefficient per path keeps the fit honest across both. ``fit`` weights every sample by 1/measured (least
squares on relative error), drops features that are collinear over the samples or get a negative coefficient, and
keeps at most one feature fewer than the distinct samples, so a kind seen at few sizes degrades to a proportional
model instead of a NaN.
"""

from __future__ import annotations

import datetime
import json
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

import numpy as np

from harness.errors import InputError, ProtocolError, UsageError
from harness.model.layers import kind, kinds, qkey
from harness.model.modelfile import Model
from harness.project import SOURCE

CALIBRATION_DIR = SOURCE.calibration
FORMAT = "harness-calibration/1"


class _Features(Mapping):
    """Kind → its cost features, read from the layer-kind registry (harness/model/layers.py) at each look-up."""

    def __getitem__(self, name: str) -> tuple[str, ...]:
        if name not in kinds():
            raise KeyError(name)
        return kind(name).features

    def __iter__(self):
        return iter(kinds())

    def __len__(self) -> int:
        return len(kinds())


FEATURES = _Features()
COLLINEAR = 1e-6  # a feature whose (scaled) column lies this close to the span of the kept ones adds nothing


@dataclass(frozen=True)
class LayerWork:
    name: str
    kind: str                 # the device graph's Step kind
    macs: int                 # multiply-accumulates, both paths
    bytes_in: int
    bytes_out: int
    weight_bytes: int         # integer parameters the layer reads (weights, biases, multipliers, shifts)
    out_elements: int
    features: Mapping[str, int] = field(default_factory=dict)  # the cost features of FEATURES[kind]; "1" is 1

    def as_dict(self) -> dict:
        return {"name": self.name, "kind": self.kind, "macs": self.macs, "bytes_in": self.bytes_in,
                "bytes_out": self.bytes_out, "weight_bytes": self.weight_bytes, "out_elements": self.out_elements,
                "features": dict(self.features)}


@dataclass(frozen=True)
class KindFit:
    features: tuple[str, ...]        # the features kept (collinear or negative ones are dropped)
    coefficients: tuple[float, ...]  # ticks per unit of each feature
    samples: int
    worst_residual: float            # max |predicted − measured| / measured over the samples

    def predict(self, work: LayerWork) -> float:
        return sum(c * work.features.get(f, 0) for f, c in zip(self.features, self.coefficients))


@dataclass(frozen=True)
class Calibration:
    board: str
    unit: str                      # "instructions" (QEMU -icount, Renode) or "cycles" (DWT on hardware)
    dsp: bool                      # the firmware flags the ticks were measured with
    date: str                      # ISO date of the fit
    models: tuple[str, ...]        # model ids measured
    kinds: Mapping[str, KindFit]

    def as_dict(self) -> dict:
        return {"format": FORMAT, "board": self.board, "unit": self.unit, "dsp": self.dsp, "date": self.date,
                "models": list(self.models),
                "kinds": {k: {"features": list(f.features), "coefficients": list(f.coefficients),
                              "samples": f.samples, "worst_residual": f.worst_residual}
                          for k, f in sorted(self.kinds.items())}}


@dataclass(frozen=True)
class LatencyCheck:
    name: str
    measured: int
    predicted: int
    ratio: float                   # measured / predicted
    ok: bool                       # measured <= predicted · (1 + margin)
    margin: float

    def describe(self, unit: str = "ticks") -> str:
        return (f"layer {self.name} took {self.measured:,} {unit}, {100 * (self.ratio - 1):+.1f}% against its "
                f"prediction {self.predicted:,} (margin {100 * self.margin:.0f}%)")


# ---- work --------------------------------------------------------------------------------------------------


def _weight_bytes(model: Model, prefixes: Sequence[str]) -> int:
    return int(sum(a.nbytes for k, a in model.arrays.items()
                   if any(k.startswith(qkey(p, "")) for p in prefixes)))


@dataclass(frozen=True)
class WorkCtx:
    """What a kind's ``work`` sees besides its step."""

    model: Model
    graph: object                   # harness.codegen.graph.Graph
    out: tuple[int, int, int]       # the step's output shape
    src: tuple[int, int, int]       # its first input's, (0, 0, 0) if none


def layer_work(model: Model) -> tuple[LayerWork, ...]:
    """Every device layer's work in graph order, with the cost features its kind computes."""
    from harness.codegen.graph import device_graph

    graph = device_graph(model)
    T = graph.tensors
    works = []
    for s in graph.steps:
        out = T[s.output]
        h, w, c = out.shape
        src = T[s.inputs[0]].shape if s.inputs else (0, 0, 0)
        k = kind(s.kind)
        f: dict[str, int] = {"1": 1}
        f.update(k.work(s, WorkCtx(model, graph, out.shape, src)))
        works.append(LayerWork(s.name, s.kind, s.macs, sum(T[t].nbytes for t in s.inputs), out.nbytes,
                               _weight_bytes(model, [s.name, *k.params]), h * w * c, MappingProxyType(f)))
    return tuple(works)


# ---- fit ---------------------------------------------------------------------------------------------------


def _select(X: np.ndarray, allowed: int) -> list[int]:
    """Columns in declared order that are not (nearly) in the span of those kept before, at most ``allowed``."""
    keep: list[int] = []
    for j in range(X.shape[1]):
        col = X[:, j]
        if len(keep) >= allowed or not np.any(col):
            continue
        if keep:
            basis = X[:, keep]
            coef = np.linalg.lstsq(basis, col, rcond=None)[0]
            if np.linalg.norm(col - basis @ coef) <= COLLINEAR * np.linalg.norm(col):
                continue
        keep.append(j)
    return keep


def fit_kind(samples: Sequence[tuple[LayerWork, int]], names: Sequence[str] | None = None) -> KindFit:
    """Non-negative least squares on relative error for one kind (module docstring)."""
    names = list(names or FEATURES[samples[0][0].kind])
    y = np.array([max(int(t), 1) for _, t in samples], dtype=np.float64)
    raw = np.array([[float(w.features.get(n, 0)) for n in names] for w, _ in samples], dtype=np.float64)
    X = raw / y[:, None]                     # each row divided by its measurement: relative residuals
    scale = np.abs(X).max(axis=0)
    scale[scale == 0] = 1.0
    Xs = X / scale
    distinct = len({tuple(r) for r in raw.tolist()})
    banned: set[int] = set()
    while True:
        pool = [j for j in range(len(names)) if j not in banned]
        keep = [pool[j] for j in _select(Xs[:, pool], max(1, distinct - 1))]
        if not keep:
            return KindFit((), (), len(samples), float("inf"))
        coef = np.linalg.lstsq(Xs[:, keep], np.ones(len(y)), rcond=None)[0]
        if (coef >= 0).all() or len(keep) == 1:
            break
        banned.add(keep[int(np.argmin(coef))])  # the most negative one goes; refit without it
    coef = np.maximum(coef, 0.0) / scale[keep]
    pred = raw[:, keep] @ coef
    worst = float(np.max(np.abs(pred - y) / y))
    return KindFit(tuple(names[j] for j in keep), tuple(float(c) for c in coef), len(samples), worst)


def tick_unit(board_name: str) -> str:
    from harness.boards import board

    return board(board_name).tick_unit


def fit(samples: Iterable[tuple[LayerWork, int]], board: str = "", unit: str = "instructions", dsp: bool = True,
        models: Sequence[str] = ()) -> Calibration:
    """Per-kind coefficients from (work, measured ticks) samples of one board and firmware build."""
    by_kind: dict[str, list[tuple[LayerWork, int]]] = {}
    for work, ticks in samples:
        by_kind.setdefault(work.kind, []).append((work, int(ticks)))
    kinds = {k: fit_kind(v) for k, v in sorted(by_kind.items())}
    return Calibration(board, unit, dsp, datetime.date.today().isoformat(), tuple(models), MappingProxyType(kinds))


def predict(calibration: Calibration, works: Iterable[LayerWork]) -> dict[str, int]:
    out = {}
    for w in works:
        kf = calibration.kinds.get(w.kind)
        if kf is None or not kf.features:
            raise UsageError(f"the {calibration.board or 'board'} latency calibration has no coefficients for layer "
                             f"kind {w.kind}; run `harness calibrate --board {calibration.board or 'B'}`")
        out[w.name] = int(round(kf.predict(w)))
    return out


def check(measured: Mapping[str, int], predicted: Mapping[str, int], margin: float) -> list[LatencyCheck]:
    """Per predicted layer: ok when measured <= predicted · (1 + margin). A layer the device did not report is a
    ProtocolError naming it."""
    missing = [n for n in predicted if n not in measured]
    if missing:
        raise ProtocolError(f"no measured ticks for layer {missing[0]} (the report has {', '.join(measured)})")
    out = []
    for name, p in predicted.items():
        m = int(measured[name])
        out.append(LatencyCheck(name, m, int(p), m / p if p else float("inf"), m <= p * (1 + margin), margin))
    return out


# ---- storage -----------------------------------------------------------------------------------------------


def calibration_path(board_name: str) -> Path:
    """Beside the board profiles: ``fixtures/calibration/<board>.json``."""
    return CALIBRATION_DIR / f"{board_name}.json"


def save_calibration(calibration: Calibration, path: str | Path | None = None) -> Path:
    path = Path(path) if path is not None else calibration_path(calibration.board)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(calibration.as_dict(), indent=1) + "\n")
    return path


def load_calibration(board_name: str, path: str | Path | None = None) -> Calibration:
    path = Path(path) if path is not None else calibration_path(board_name)
    if not path.is_file():
        raise UsageError(f"no latency calibration for board {board_name} ({path} is missing); run "
                         f"`harness calibrate --board {board_name}`")
    try:
        d = json.loads(path.read_text())
        kinds = {k: KindFit(tuple(v["features"]), tuple(float(c) for c in v["coefficients"]), int(v["samples"]),
                            float(v["worst_residual"])) for k, v in d["kinds"].items()}
        if d.get("format") != FORMAT:
            raise ValueError(f"format {d.get('format')!r}, expected {FORMAT}")
        return Calibration(d["board"], d["unit"], bool(d["dsp"]), d["date"], tuple(d["models"]),
                           MappingProxyType(kinds))
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise InputError(f"latency calibration {path} is malformed ({exc}); regenerate it with "
                         f"`harness calibrate --board {board_name}`") from exc


# ---- measuring ---------------------------------------------------------------------------------------------

Measure = Callable[[Model, np.ndarray], Mapping[str, int]]


def selftest_measure(board: str, dsp: bool = True) -> Measure:
    """Per-layer ticks from the self-test firmware on a QEMU board (the very counts the device firmware reports)."""
    from harness.compare.selftest import run_selftest

    def measure(model: Model, image: np.ndarray) -> dict[str, int]:
        report = run_selftest(model, image, board, dsp=dsp).report
        if report.status != 0:  # the layers after the failing one report 0 ticks: never fit on them
            from harness.errors import TargetError
            h, w = model.input_hw
            raise TargetError(f"the self-test of model {model.model_id} at {w}x{h} on {board} ended with status "
                              f"{report.status}; a kernel refused its arguments, so its layers cannot be measured")
        return {r.name: r.ticks for r in report.layers}

    return measure


def resized(model: Model, height: int, width: int) -> Model:
    """The same weights and quantisation at another input size (every layer is size-agnostic): same kernel paths,
    other shapes, so each kind gets distinct points."""
    cfg = json.loads(json.dumps(model.config))
    cfg["input"].update(height=int(height), width=int(width))
    return Model.create(cfg, dict(model.arrays))


def calibration_set(model: Model, image: np.ndarray) -> list[tuple[Model, np.ndarray]]:
    """``model`` on ``image``, the same model at three smaller sizes (240x180 keeps the prepared RNNPool path, 128x96
    and 96x96 take the generic one) and two random-weight models whose heads take the plain conv loop."""
    from harness.model.quantize import quantize
    from harness.model.random_init import random_model
    from harness.model.synthetic import synthetic_image, synthetic_images

    out = [(model, image)]
    for h, w in ((180, 240), (96, 128), (96, 96)):
        out.append((resized(model, h, w), synthetic_image(h, w, seed=9)))
    for h, w, seed in ((120, 160, 21), (48, 64, 22)):
        m = quantize(random_model(model.arch, seed=seed, height=h, width=w), synthetic_images(h, w, 2, seed=3))
        out.append((m, synthetic_image(h, w, seed=9)))
    return out


def calibrate(board_name: str, measure: Measure, models_and_images: Iterable[tuple[Model, np.ndarray]],
              progress: Callable[[str], None] | None = None, dsp: bool = True) -> Calibration:
    """Measure every (model, image), fit per kind; ``progress`` gets one line per model."""
    samples, ids = [], []
    pairs = list(models_and_images)
    for i, (model, image) in enumerate(pairs):
        h, w = model.input_hw
        if progress:
            progress(f"[{i + 1}/{len(pairs)}] measuring model {model.model_id} at {w}x{h} on {board_name} …")
        ticks = measure(model, image)
        samples += [(work, int(ticks[work.name])) for work in layer_work(model) if work.name in ticks]
        ids.append(model.model_id)
    return fit(samples, board_name, tick_unit(board_name), dsp, ids)
