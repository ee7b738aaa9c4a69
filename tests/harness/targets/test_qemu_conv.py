"""The convolution kernels cross-compiled for the Cortex-M4 and run on QEMU's STM32F405, DSP and portable builds:
the five benchmark layers of bench/conv_instructions.py plus small adversarial shapes (odd channel counts, borders,
extreme values, shifts >= 0) give the reference CRCs. The host tests cover only the portable path; this is where
the DSP path (SXTB16 / SMLAD) is checked."""

import importlib.util
import sys
from pathlib import Path

import pytest
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR

ROOT = Path(__file__).resolve().parents[3]


def _bench():
    spec = importlib.util.spec_from_file_location("conv_instructions", ROOT / "bench" / "conv_instructions.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_conv_kernels_on_the_emulated_stm32f405_match_the_reference(dsp):
    bench = _bench()
    cases = bench.model_cases() + bench.edge_cases()
    got = bench.run(cases, dsp=dsp, timeout=120)
    bad = [(c.name, f"{got[c.name][0]:08x}", f"{bench.expected_crc(c):08x}") for c in cases
           if got[c.name][0] != bench.expected_crc(c)]
    assert not bad, f"{len(bad)} of {len(cases)} outputs differ (name, C CRC, NumPy CRC): {bad}"
    macs = {c.name: c.macs for c in cases}
    assert got["mb0.expand"][1] < macs["mb0.expand"] * (2 if dsp else 4)  # not the one-MAC-at-a-time loops
