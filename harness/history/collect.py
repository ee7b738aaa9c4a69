"""From device runs to a history record: each fixture's reports become a ``FixtureResult`` (in the pytest worker
that ran it), and the fixtures of a session become one ``Run`` (in the controller, at the end)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np

from harness.compare.device import Reference
from harness.errors import HarnessError
from harness.history.record import FixtureResult, Run
from harness.protocol.report import RunReport


def _box(d) -> tuple[float, ...]:
    return tuple(round(float(v), 4) for v in (d.x0, d.y0, d.x1, d.y1, d.score))


def fixed_float_agreement(reference: Reference, image: np.ndarray, fixed) -> tuple[int, int, int]:
    """(matched, fixed, float): the fixed-point detections against the float model's, one-to-one at IoU ≥ 0.5."""
    from harness.accuracy.metrics import match_detections
    from harness.model.run import run_reference

    model = reference.model
    if not model.float_arrays():  # a fixed-point-only model has no float reference to agree with
        return 0, len(fixed), 0
    floats = run_reference(model, image, "float", threshold=reference.generated.score_threshold).detections
    flags = match_detections(list(fixed), [(d.x0, d.y0, d.x1, d.y1) for d in floats])
    return sum(1 for f in flags if f), len(fixed), len(floats)


def fixture_result(name: str, reference: Reference, image: np.ndarray, reports: Sequence[RunReport],
                   ran_on: dict[str, str] | None = None) -> FixtureResult:
    """One fixture's repeats (at least one report) checked against the reference; the first report's
    fingerprints and detections are kept, and every report's ticks. ``ran_on``: which physical board (a farm's
    place, exporter and probe)."""
    first = reports[0]
    verdict = reference.check(image, first)
    same = all([x.crc for x in r.layers] == [x.crc for x in first.layers] for r in reports[1:])
    latency = {"total": tuple(r.total_ticks for r in reports)}
    for i, layer in enumerate(first.layers):
        latency[layer.name] = tuple(r.layers[i].ticks for r in reports)
    return FixtureResult(
        name=name, matched=verdict.match and same,
        fingerprints={x.name: f"{x.crc:08x}" for x in first.layers},
        detections=tuple(_box(d) for d in verdict.detections),
        latency=latency, stack_bytes=max(r.stack_bytes for r in reports),
        fixed_float=fixed_float_agreement(reference, image, verdict.reference), ran_on=dict(ran_on or {}))


def device_ap50(fixtures: Sequence[FixtureResult], fixtures_dir: Path | None, input_hw: tuple[int, int]
                ) -> float | None:
    """AP@0.5 of the device's detections against the labels of exactly these fixtures; None when a fixture has
    no label here or there is no face to find."""
    from harness.accuracy.evaluation import scaled_truths
    from harness.accuracy.metrics import evaluate
    from harness.scenes.fixtures import load

    if not fixtures or fixtures_dir is None:
        return None
    try:
        labels = {item.name: item for item in load(Path(fixtures_dir))}
    except HarnessError:
        return None
    if any(f.name not in labels for f in fixtures):
        return None
    per_image = [(f.detections, scaled_truths(labels[f.name], input_hw), labels[f.name].difficult) for f in fixtures]
    try:
        return round(evaluate(per_image, 0.0).ap50, 6)
    except ValueError:  # no ground-truth face among them
        return None


def assemble_run(context: dict, fixtures: Sequence[FixtureResult], provenance: dict, ap50: float | None) -> Run:
    """``context``: what the device side reported once per session (board, backend, runs_on, unit, model,
    model_id, build_id, dsp, compiler, flash_bytes, ram_bytes, arena_bytes, repeats)."""
    ordered = tuple(sorted(fixtures, key=lambda f: f.name))  # xdist finishes them in any order
    return Run(**context, **provenance, ap50=ap50, fixtures=ordered)


def session_run(context: dict, fixtures: Sequence[dict], project: Path, fixtures_dir: Path, model_path) -> Run:
    """The run of a pytest session: the fixtures its workers sent (as JSON dicts), the project's provenance, and
    AP@0.5 against the labels in ``fixtures_dir``."""
    from harness.history.provenance import provenance
    from harness.model.modelfile import load

    results = [FixtureResult.from_dict(f) for f in fixtures]
    ap50 = device_ap50(results, fixtures_dir, load(model_path).input_hw)
    return assemble_run(context, results, provenance(project), ap50)


def run_context(dut, model_name: str, repeats: int) -> dict:
    """The run-level facts of a started ``harness.dut.Dut``."""
    info = dut.build.info
    # A board let run at another clock than its profile's (--allow-clock-fallback) is its own board in the history:
    # its figures are never compared with, or gated against, the normal ones.
    board = dut.board.name
    if dut.clock_fallback:
        board += f"+clock-{dut.info.clock_hz // 10**6}MHz-{dut.info.clock_status}"
    return {"board": board, "backend": dut.board.backend, "runs_on": dut.target.describe(),
            "unit": dut.board.tick_unit, "model": model_name, "model_id": dut.model.model_id,
            "build_id": info["build_id"], "dsp": bool(info["dsp"]), "compiler": info["compiler"],
            "flash_bytes": int(info["flash_bytes"]), "ram_bytes": int(info["ram_bytes"]),
            "arena_bytes": int(info["arena_bytes"]), "repeats": repeats}
