"""Per-layer latency prediction: each device layer's work, per-kind cost coefficients fitted to measured ticks, and
a check that names the layers running slower than predicted.

A layer's cost is linear in a few work features of its kind (all derived from the model, never measured)::

    stem        macs, border_macs, 1              inner pixels take the unpadded loop, border pixels the padded one
    rnnpool     macs, generic_macs, 1             prepared FastGRNN path vs the generic int64 step (≈2x per MAC)
    mbconv      pw_macs, dw_macs, requant, add_elements, 1
                                                  SMLAD pointwise vs 3x3 depthwise, one requantise per value
    l2norm      out_elements, pixels, 1           square + requantise per value, one isqrt and divide per pixel
    conv_s16    macs, generic_macs, window, out_elements, 1
                                                  SMLAD sweep vs the plain loop (a head with a shift >= 0); window
                                                  loads per pixel (k·k·c_in) and one requantise per output
    candidates  priors, 1                         one score test per prior (candidates found add a data-dependent
                                                  few %: not predictable from the model)

``macs``/``generic_macs`` split a layer's multiply-accumulates by the kernel path it takes, which the firmware
chooses from the model alone (rp_rnnpool_s8.c: the prepared cells must fit the scratch; rp_nn_conv_s8.c: every
shift <= -1): a random-weight model or a narrow input can take the slower path, and one coefficient per path keeps
the fit honest across both. ``fit`` weights every sample by 1/measured (least squares on relative error), drops
features that are collinear over the samples or get a negative coefficient, and keeps at most one feature fewer
than the distinct samples, so a kind seen at few sizes degrades to a proportional model instead of a NaN.
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
from harness.model.modelfile import Model

ROOT = Path(__file__).resolve().parents[2]
CALIBRATION_DIR = ROOT / "fixtures" / "calibration"
FORMAT = "harness-calibration/1"
FEATURES = {
    "stem": ("macs", "border_macs", "1"),
    "rnnpool": ("macs", "generic_macs", "1"),
    "mbconv": ("pw_macs", "dw_macs", "requant", "add_elements", "widen", "1"),
    "l2norm": ("out_elements", "pixels", "1"),
    "conv_s16": ("macs", "pair_macs", "generic_macs", "window", "iterations", "out_elements", "generic_outputs", "1"),
    "candidates": ("priors", "1"),
}
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


def _quant_array(model: Model, name: str) -> np.ndarray:
    return np.asarray(model.arrays.get(f"q/{name}", np.zeros(0, np.int64)))


def _weight_bytes(model: Model, prefixes: Sequence[str]) -> int:
    return int(sum(a.nbytes for k, a in model.arrays.items()
                   if k.startswith("q/") and any(k[2:].startswith(p + ".") for p in prefixes)))


def rnnpool_fast(model: Model, stem_w: int) -> bool:
    """Whether rp_rnnpool_s8 takes its prepared path: the two prepared cells and projections fit beside the ring
    in the scratch (rp_rnnpool_s8.c) and rp_nn_fastgrnn_prepare accepts both cells' parameters."""
    rp = model.config["rnnpool"]
    P, S, h1, h2, c_in = rp["patch"], rp["stride"], rp["hidden1"], rp["hidden2"], model.config["stem"]["out"]
    used_w = ((stem_w - P) // S) * S + P

    def prepared(n_in: int, n_h: int) -> int:  # rp_nn_fastgrnn_prepared_size
        return 4 * n_h * (((n_in + 3) >> 2) * 2 + n_h // 2) + 8 * n_h

    if prepared(c_in, h1) + prepared(h1, h2) + 2 * P * h2 * 4 > used_w * h1 * 2:
        return False
    for cell, n_in, n_h, s8 in (("rnn1", c_in, h1, True), ("rnn2", h1, h2, False)):
        shift, x_shift = int(_quant_array(model, f"{cell}.shift").ravel()[0]), \
            int(_quant_array(model, f"{cell}.x_shift").ravel()[0])
        biases = np.concatenate([_quant_array(model, f"{cell}.bg").ravel(), _quant_array(model, f"{cell}.bh").ravel()])
        if n_h < 4 or n_h % 4 or not -31 <= shift <= -2 or (np.abs(biases) > 1 << 30).any():
            return False
        if (not 0 <= x_shift <= 8) if s8 else (x_shift != 0 or n_in % 4):
            return False
    return True


def conv_fast(model: Model, name: str, c_in: int, k: int = 3) -> bool:
    """Whether rp_nn_conv_s8 takes its SMLAD sweep (every shift <= -1, c_in % 4 == 0, the widened filters fit);
    else the plain per-output loop."""
    shifts = _quant_array(model, f"{name}.shift")
    return bool(shifts.size and (shifts <= -1).all() and c_in % 4 == 0 and k * k * c_in <= 1152)


def _valid_taps(n_out: int, n_in: int, k: int = 3) -> int:
    """Window taps inside the input along one axis, summed over the outputs (stride 1, same padding)."""
    return sum(min(o + k // 2, n_in - 1) - max(o - k // 2, 0) + 1 for o in range(n_out))


def _inner(n_out: int, n_in: int, k: int, stride: int) -> int:
    """Outputs along one axis whose window needs no padding."""
    return sum(1 for o in range(n_out) if o * stride - k // 2 >= 0 and o * stride - k // 2 + k <= n_in)


def _pair_steps(w: int) -> int:
    """Sweep steps along a row of w outputs when pixels go in pairs with equal valid taps: the two edge pixels
    (padded on one side) go alone."""
    return w if w < 3 else 2 + (w - 2 + 1) // 2


def layer_work(model: Model) -> tuple[LayerWork, ...]:
    """Every device layer's work in graph order, with the cost features its kind uses (module docstring)."""
    from harness.codegen.graph import device_graph

    graph = device_graph(model)
    cfg, T = model.config, graph.tensors
    works = []
    for s in graph.steps:
        out = T[s.output]
        h, w, c = out.shape
        src = T[s.inputs[0]].shape if s.inputs else (0, 0, 0)
        f: dict[str, int] = {"1": 1}
        prefixes = [s.name]
        if s.kind == "stem":
            k, st = cfg["stem"]["kernel"], cfg["stem"]["stride"]
            border = h * w - _inner(h, src[0], k, st) * _inner(w, src[1], k, st)
            f.update(macs=s.macs, border_macs=border * k * k * src[2] * c)
        elif s.kind == "rnnpool":
            fast = rnnpool_fast(model, src[1])
            f.update(macs=s.macs if fast else 0, generic_macs=0 if fast else s.macs)
            prefixes = ["rnn1", "rnn2", "rnnpool"]
        elif s.kind == "mbconv":
            blk = cfg["blocks"][int(s.name[2:])]
            hid, pixels = blk["hidden"], h * w
            dw = pixels * hid * 9
            f.update(pw_macs=s.macs - dw, dw_macs=dw, requant=src[0] * src[1] * hid + pixels * (hid + c),
                     add_elements=h * w * c if blk["residual"] else 0, widen=src[0] * hid * src[2] + h * hid * c)
        elif s.kind == "l2norm":
            f.update(out_elements=h * w * c, pixels=h * w)
        elif s.kind == "conv_s16":
            fast = conv_fast(model, s.name, src[2])
            window = _valid_taps(h, src[0]) * _valid_taps(w, src[1]) * src[2]  # padding taps are skipped
            # the sweep runs channel groups of 4 one pixel at a time, groups of 2 over pixel pairs
            groups = [4 if c - o >= 3 else 2 for o in range(0, c, 4)] if fast else []
            pair = sum(g == 2 for g in groups) * 4 * window * _pair_steps(w) // w  # an unpaired pixel is done twice
            f.update(macs=sum(g == 4 for g in groups) * 4 * window, pair_macs=pair,
                     generic_macs=0 if fast else window * c,
                     window=window * len(groups), iterations=sum(h * (w if g == 4 else _pair_steps(w)) for g in groups),
                     out_elements=h * w * c if fast else 0, generic_outputs=0 if fast else h * w * c)
        elif s.kind == "candidates":
            f.update(priors=sum(T[t].shape[0] * T[t].shape[1] for t in s.inputs if t.endswith(".conf")))
            prefixes = []
        bytes_in = sum(T[t].nbytes for t in s.inputs)
        works.append(LayerWork(s.name, s.kind, s.macs, bytes_in, out.nbytes, _weight_bytes(model, prefixes),
                               h * w * c if s.kind != "candidates" else graph.max_candidates,
                               MappingProxyType(f)))
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
        return {r.name: r.ticks for r in run_selftest(model, image, board, dsp=dsp).report.layers}

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
