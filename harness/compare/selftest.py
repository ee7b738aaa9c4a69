"""A self-test report against the NumPy fixed-point reference: every layer's fingerprint, the candidates and the
detections they decode to; the first differing layer is named."""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np

from harness.build.firmware import FirmwareBuild
from harness.codegen.generate import GeneratedModel
from harness.errors import ProtocolError, UsageError
from harness.latency.model import layer_work
from harness.model.candidates import candidates, detect_candidates
from harness.model.detect import Detection, detect
from harness.model.fixed_ref import run_fixed
from harness.model.modelfile import Model
from harness.protocol.report import RunReport, parse_report


@dataclass(frozen=True)
class LayerCheck:
    name: str
    expected: int      # reference CRC-32
    actual: int        # device CRC-32
    ticks: int         # instructions (QEMU) or cycles (boards)
    macs: int          # multiply-accumulates as the kernel performs them (DeviceStep.macs)
    loads: int = 0     # bytes the layer must read at least once: its inputs and its integer parameters

    @property
    def match(self) -> bool:
        return self.expected == self.actual

    @property
    def floor(self) -> float:
        """Instructions no Cortex-M4 kernel can go below: two MACs per SMLAD, four bytes per load."""
        return self.macs / 2 + self.loads / 4

    @property
    def floor_ratio(self) -> float:
        return self.ticks / self.floor if self.floor else 0.0

    def as_dict(self) -> dict:
        return {"name": self.name, "match": self.match, "expected": f"{self.expected:08x}",
                "actual": f"{self.actual:08x}", "instructions": self.ticks, "macs": self.macs, "loads": self.loads,
                "floor": round(self.floor), "floor_ratio": round(self.floor_ratio, 2)}


@dataclass(frozen=True)
class SelftestVerdict:
    layers: tuple[LayerCheck, ...]
    problems: tuple[str, ...]          # empty when everything matches
    detections: tuple[Detection, ...]  # decoded from the device's candidates
    reference: tuple[Detection, ...]   # run_fixed + detect

    @property
    def match(self) -> bool:
        return not self.problems


def check_report(model: Model, generated: GeneratedModel, image: np.ndarray, report: RunReport
                 ) -> SelftestVerdict:
    cfg, scales = model.config, model.require_quant()["scales"]
    ref = run_fixed(model, image)
    want, total = candidates(cfg, ref.layers, list(generated.thresholds), generated.graph.max_candidates)
    expected = dict(ref.fingerprints, candidates=zlib.crc32(want.tobytes()))
    macs = {s.name: s.macs for s in generated.graph.steps}
    loads = {w.name: w.bytes_in + w.weight_bytes for w in layer_work(model)}
    checks = tuple(LayerCheck(r.name, expected.get(r.name, -1), r.crc, r.ticks, macs.get(r.name, 0),
                              loads.get(r.name, 0)) for r in report.layers)
    problems = []
    if report.model_id != model.model_id:
        problems.append(f"the firmware runs model {report.model_id}, the host expects {model.model_id}")
    if report.status != 0:
        problems.append(f"rp_model_run returned status {report.status}")
    missing = [n for n in expected if n not in {c.name for c in checks}]
    if missing:
        problems.append(f"the report lacks layers {', '.join(missing)}")
    bad = next((c for c in checks if not c.match), None)
    if bad is not None:
        problems.append(f"first differing layer: {bad.name} (device crc {bad.actual:08x}, reference "
                        f"{bad.expected:08x})")
    if report.n_candidates != total:
        problems.append(f"device found {report.n_candidates} candidates, the reference {total}")
    t = generated.score_threshold
    device_dets = detect_candidates(cfg, scales, report.candidates, t) if len(report.candidates) else []
    ref_dets = detect(cfg, ref.raw, t)
    if not problems and total <= len(want) and device_dets != ref_dets:
        problems.append("detections differ from the reference's")
    return SelftestVerdict(checks, tuple(problems), tuple(device_dets), tuple(ref_dets))


@dataclass(frozen=True)
class SelftestOutcome:
    build: FirmwareBuild
    report: RunReport
    verdict: SelftestVerdict

    def as_dict(self) -> dict:
        r, info = self.report, self.build.info
        return {"match": self.verdict.match, "problems": list(self.verdict.problems), "board": info["board"],
                "model_id": r.model_id, "build_id": r.build_id, "instructions": r.total_ticks,
                "arena_bytes": r.arena_bytes, "ram_bytes": info["ram_bytes"], "flash_bytes": info["flash_bytes"],
                "stack_bytes": r.stack_bytes, "stack_reserve": info["stack_reserve"], "dsp": info["dsp"],
                "macs": sum(c.macs for c in self.verdict.layers),
                "floor": round(sum(c.floor for c in self.verdict.layers)),
                "layers": [c.as_dict() for c in self.verdict.layers],
                "detections": [d.as_dict() for d in self.verdict.detections]}


def run_selftest(model: Model, image: np.ndarray, board: str = "qemu-stm32f405", dsp: bool = True,
                 timeout: float = 900.0) -> SelftestOutcome:
    """Build the self-test firmware with ``image`` in flash, run it on QEMU and check it against the reference."""
    from harness.build.firmware import build_firmware, record_measurement
    from harness.targets.qemu import run_semihosted

    from harness.build.cross import board_profile

    backend = board_profile(board).get("backend")
    if backend != "qemu":
        raise UsageError(f"harness selftest runs on a QEMU board (e.g. qemu-stm32f405); {board} is a {backend} "
                         "board: build its device firmware with `harness build --board " + board + "`")
    build = build_firmware(model, board, "selftest", image, dsp=dsp)
    run = run_semihosted(build.elf, timeout)
    try:
        report = parse_report(run.output)
    except ProtocolError as exc:
        raise ProtocolError(f"{exc} (QEMU exit status {run.exit_code})") from exc
    verdict = check_report(model, build.generated, image, report)
    record_measurement(build, {"instructions": report.total_ticks, "stack_high_water": report.stack_bytes,
                               "arena_bytes": report.arena_bytes, "image_sha256": build.info["image_sha256"],
                               "match": verdict.match})
    return SelftestOutcome(build, report, verdict)
