"""The project's device suite: every labelled fixture image on the board given with ``--board``. Every layer's
fingerprint and the detections equal the fixed-point reference's; on a mismatch the failure names the first
differing layer and element (its tensor fetched from the device). Latency and memory go to the junit properties
and the terminal summary; a layer slower than its calibrated prediction fails, named."""

from pathlib import Path

import numpy as np
import pytest

from harness.compare.device import first_difference
from harness.scenes.fixtures import load

pytestmark = pytest.mark.device


def test_fixture_is_bit_exact_with_the_reference(dut, reference, labelled_image, record_device_run, latency_budget):
    image = labelled_image.image()
    report = dut.run(image)
    record_device_run(report, latency_budget)
    verdict = reference.check(image, report)
    if not verdict.match:
        detail = reference.drill_down(image, verdict, lambda layer: dut.dump_layer(image, layer))
        if detail is None and dut.timing.get("streamed"):  # a dump's upload does not stream
            detail = ("dumped from an unstreamed run the layer equals the reference: the difference came with the "
                      "streamed upload (--no-stream runs without it)")
        pytest.fail("; ".join(verdict.problems) + (f"; {detail}" if detail else ""))
    assert verdict.detections == verdict.reference
    slow = latency_budget.over(report)
    assert not slow, "; ".join(slow)


def test_a_layer_tensor_read_from_the_device_equals_the_reference(dut, reference, pytestconfig):
    image = load(Path(pytestconfig.getoption("fixtures_dir")))[0].image()
    for layer in ("rnnpool", "head1.loc"):  # an int8 and an int16 tensor
        want = reference.layer(image, layer)
        got = np.frombuffer(dut.dump_layer(image, layer), want.dtype).reshape(want.shape)
        assert first_difference(layer, got, want) is None
