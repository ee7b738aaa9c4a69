"""The self-test verdict: a report that matches passes; one differing fingerprint is named as the first differing
layer; a wrong model or candidate count is reported. Reports come from the host build of the generated C."""

import zlib
from dataclasses import replace
from pathlib import Path

import cv2
import pytest

from harness.native.generated import HostModel
from harness.compare.selftest import check_report
from harness.model.modelfile import load
from harness.protocol.report import LayerReport, RunReport, parse_report
from harness.errors import ProtocolError

ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture(scope="module")
def host_report():
    host = HostModel(load(ROOT / "fixtures" / "models" / "default.npz"))
    image = cv2.imread(str(ROOT / "fixtures" / "scenes" / "scene-009.png"), cv2.IMREAD_GRAYSCALE)
    run = host.run(image)
    data = dict(run.layers, candidates=run.candidates)
    layers = tuple(LayerReport(s.name, zlib.crc32(data[s.name].tobytes()), 1000 + i, data[s.name].nbytes)
                   for i, s in enumerate(host.generated.graph.steps))
    report = RunReport(host.model.model_id, 0, "ab" * 20, layers, run.candidates, run.n_candidates,
                            sum(r.ticks for r in layers), host.generated.plan.arena_bytes, 4000)
    return host, image, report


def test_matching_report_passes(host_report):
    host, image, report = host_report
    verdict = check_report(host.model, host.generated, image, report)
    assert verdict.match and verdict.detections == verdict.reference and len(verdict.detections) >= 1


def test_first_differing_layer_is_named(host_report):
    host, image, report = host_report
    layers = list(report.layers)
    for i in (6, 9):  # mb1 and head1.loc are corrupted: mb1 runs first
        layers[i] = replace(layers[i], crc=layers[i].crc ^ 1)
    verdict = check_report(host.model, host.generated, image, replace(report, layers=tuple(layers)))
    assert not verdict.match
    assert any(p.startswith(f"first differing layer: {layers[6].name} ") for p in verdict.problems), verdict.problems


def test_wrong_model_and_candidate_count_are_reported(host_report):
    host, image, report = host_report
    verdict = check_report(host.model, host.generated, image,
                           replace(report, model_id="0" * 16, n_candidates=report.n_candidates + 1))
    assert any("runs model 0000000000000000" in p for p in verdict.problems)
    assert any("candidates" in p for p in verdict.problems)


def test_report_text_round_trip_and_truncation():
    text = ("selftest 1 model 765f736bc4b3ee75 status 0 build-id 00ff\nlayer stem crc 0000002a ticks 7 bytes 9\n"
            "candidate 12 -3 4 1 2 3 -4\ntotal ticks 7 candidates 1 arena 100 stack 50\n")
    r = parse_report(text)
    assert r.layers[0].crc == 42 and r.candidates[0]["prior"] == 12 and list(r.candidates[0]["loc"]) == [1, 2, 3, -4]
    with pytest.raises(ProtocolError, match="did not finish its report"):
        parse_report(text.rsplit("total", 1)[0])
