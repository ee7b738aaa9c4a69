"""The drill-down on a real mismatch: the device runs the shipped model, the reference is told one weight of mb1
differs by one step; the failure must name mb1 (not a later layer) and its first differing element, with the
device's value fetched over the link."""

from pathlib import Path

import numpy as np
import pytest

from harness.build.firmware import CACHE
from harness.codegen.generate import generate
from harness.compare.device import Reference
from harness.scenes.fixtures import load

pytestmark = pytest.mark.device


def test_a_mismatch_names_the_first_differing_layer_and_element(dut, harness_model, pytestconfig):
    arrays = dict(harness_model.arrays)
    w = arrays["q/mb1.project.w"].copy()
    w.flat[0] = w.flat[0] + 1 if w.flat[0] < 127 else w.flat[0] - 1
    arrays["q/mb1.project.w"] = w
    altered = harness_model.replace(arrays=arrays)
    reference = Reference(altered, generate(altered, CACHE / "generated" / altered.model_id))
    image = load(Path(pytestconfig.getoption("fixtures_dir")))[0].image()

    report = dut.run(image)
    verdict = reference.check(image, report)
    assert not verdict.match and any("first differing layer: mb1" in p for p in verdict.problems)
    detail = reference.drill_down(image, verdict, lambda layer: dut.dump_layer(image, layer))
    assert detail is not None and detail.layer == "mb1" and detail.expected != detail.actual
    assert 0 < detail.differing < detail.total and len(detail.index) == 3
    # the device's value is what the shipped model's reference computes there
    assert Reference(harness_model, dut.build.generated).layer(image, "mb1")[detail.index] == detail.actual
    assert f"expected {detail.expected}, device {detail.actual}" in str(detail)
    assert np.int64(detail.actual) != reference.layer(image, "mb1")[detail.index]
