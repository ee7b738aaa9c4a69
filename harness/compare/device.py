"""A device run against the fixed-point reference, with the drill-down: when a layer's fingerprint differs, its
whole tensor is fetched from the device and the first differing element is named, expected vs actual."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from harness.codegen.generate import GeneratedModel
from harness.compare.selftest import SelftestVerdict, check_report
from harness.model.candidates import CANDIDATE, candidates
from harness.model.fixed_ref import run_fixed
from harness.model.modelfile import Model
from harness.protocol.report import RunReport


@dataclass(frozen=True)
class ElementMismatch:
    layer: str
    index: tuple[int, ...]   # (y, x, c) in the layer's HWC tensor; (candidate, field) for the candidates
    expected: int
    actual: int
    differing: int           # elements that differ
    total: int

    def __str__(self) -> str:
        where = (f"candidate {self.index[0]} field {CANDIDATE.names[self.index[1]]}" if self.layer == "candidates"
                 else "(y, x, c) = " + str(self.index))
        return (f"layer {self.layer}: first differing element at {where}: expected {self.expected}, device "
                f"{self.actual} ({self.differing} of {self.total} elements differ)")


def first_difference(layer: str, device: np.ndarray, reference: np.ndarray) -> ElementMismatch | None:
    """Both arrays of the same shape and dtype; None when they are equal."""
    if device.shape != reference.shape:
        return ElementMismatch(layer, (), int(np.prod(reference.shape)), int(np.prod(device.shape)), -1, -1)
    diff = device != reference
    if not diff.any():
        return None
    index = tuple(int(i) for i in np.unravel_index(int(np.argmax(diff)), diff.shape))
    return ElementMismatch(layer, index, int(reference[index]), int(device[index]), int(diff.sum()), diff.size)


def _as_table(records: np.ndarray) -> np.ndarray:
    """Candidate records → an (n, 7) int table (prior, bg, face, loc0..3) so they compare element by element."""
    return np.column_stack([records["prior"], records["conf_bg"], records["conf_face"], records["loc"]]).astype(int)


@dataclass(frozen=True)
class Reference:
    """The fixed-point reference for one generated model: what every layer of the device must produce."""

    model: Model
    generated: GeneratedModel

    def check(self, image: np.ndarray, report: RunReport) -> SelftestVerdict:
        return check_report(self.model, self.generated, image, report)

    def layer(self, image: np.ndarray, name: str) -> np.ndarray:
        ref = run_fixed(self.model, image)
        if name == "candidates":
            want, _ = candidates(self.model.config, ref.layers, list(self.generated.thresholds),
                                 self.generated.graph.max_candidates)
            return want
        return ref.layers[name]

    def drill_down(self, image: np.ndarray, verdict: SelftestVerdict, dump) -> ElementMismatch | None:
        """``dump(layer) -> bytes`` fetches a layer's output from the device; the first differing layer's first
        differing element, or None when every layer matches."""
        bad = next((c for c in verdict.layers if not c.match), None)
        if bad is None:
            return None
        want = self.layer(image, bad.name)
        got = np.frombuffer(dump(bad.name), dtype=want.dtype)
        if bad.name == "candidates":
            return first_difference(bad.name, _as_table(got), _as_table(want))
        if got.size != want.size:
            return ElementMismatch(bad.name, (), want.size, got.size, -1, -1)
        return first_difference(bad.name, got.reshape(want.shape), want)


@dataclass(frozen=True)
class LatencyBudget:
    """Per-layer predictions from the board's calibration (harness.latency), and the margin a layer may
    exceed them by. ``predicted`` is None when there is nothing to compare with; ``why_not`` says why."""

    predicted: dict[str, int] | None
    margin: float
    unit: str
    why_not: str = ""

    def over(self, report: RunReport) -> list[str]:
        """One line per layer slower than its prediction by more than the margin, naming it."""
        from harness.latency import check

        if not self.predicted:
            return []
        checks = check({layer.name: layer.ticks for layer in report.layers}, self.predicted, self.margin)
        return [c.describe(self.unit) for c in checks if not c.ok]


def latency_budget(board_name: str, model: Model, dsp: bool, margin: float) -> LatencyBudget:
    from harness.latency import layer_work, load_calibration, predict, tick_unit
    from harness.errors import UsageError

    unit = tick_unit(board_name)
    try:
        cal = load_calibration(board_name)
    except UsageError as exc:
        return LatencyBudget(None, margin, unit, str(exc))
    if cal.dsp != dsp:
        return LatencyBudget(None, margin, unit, f"the {board_name} calibration was measured with "
                             f"{'DSP' if cal.dsp else 'portable'} kernels; this build is "
                             f"{'DSP' if dsp else 'portable'}: run `harness calibrate --board {board_name}`"
                             + ("" if dsp else " --portable"))
    return LatencyBudget(predict(cal, layer_work(model)), margin, cal.unit)
