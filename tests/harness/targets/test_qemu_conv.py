"""The convolution kernels cross-compiled for the Cortex-M4 and run on QEMU's STM32F405, DSP and portable builds: the
benchmark layers of bench/conv_instructions.py (the stem among them) plus small adversarial shapes (odd channel
counts and sizes, borders, extreme values, shifts >= 0) give the reference CRCs. The host tests cover only the
portable path; this is where the DSP path (SXTB16 / SMLAD) is checked."""

import importlib.util
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
from tests.harness.targets.needs import EMULATOR

from harness.codegen.carray import c_array
from harness.model import fixed_ref
from harness.model.qmath import quantize_multipliers
from harness.targets.qemu import run_probe

pytestmark = EMULATOR

ROOT = Path(__file__).resolve().parents[3]


def _bench():
    spec = importlib.util.spec_from_file_location("conv_instructions", ROOT / "bench" / "conv_instructions.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclass resolves annotations through sys.modules
    spec.loader.exec_module(module)
    return module


# The portable C on the M4 under -m slow: the same C is held bit-exact on the host (tests/harness/native).
@pytest.mark.parametrize("dsp", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["dsp", "portable"])
def test_conv_kernels_on_the_emulated_stm32f405_match_the_reference(dsp):
    bench = _bench()
    cases = bench.model_cases() + bench.edge_cases()
    got = bench.run(cases, dsp=dsp, timeout=120)
    bad = [(c.name, f"{got[c.name][0]:08x}", f"{bench.expected_crc(c):08x}") for c in cases
           if got[c.name][0] != bench.expected_crc(c)]
    assert not bad, f"{len(bad)} of {len(cases)} outputs differ (name, C CRC, NumPy CRC): {bad}"
    # Instruction budgets about 5 % above today's counts (issue 17: the stem <= 2 M; DSP pointwise above one MAC per
    # instruction, rp_nn_pointwise4_s8.c; the portable one two MACs per 64-bit multiply-add)
    budgets = {True: {"stem": 2_000_000, "mb0.expand": 9_700_000, "mb0.project": 4_600_000, "mb0.dw": 3_500_000,
                      "head0.conf": 1_350_000},
               False: {"stem": 2_900_000, "mb0.expand": 17_400_000, "mb0.project": 8_800_000, "head0.conf": 2_650_000}}
    for name, budget in budgets[dsp].items():
        assert got[name][1] <= budget, (name, got[name][1])
    if dsp:  # the ring of widened rows saves work on the heads (issue 17: heads <= 6 M)
        assert got["head0.conf.ring"][1] < 0.93 * got["head0.conf"][1], (got["head0.conf.ring"], got["head0.conf"])



# The row kernel behind both depthwise paths, called as the fused MBConv calls it: rows in any order in memory (the
# three slots of a ring), NULL rows (top, bottom, middle, two, all three), widths 1 and 2, both strides, c % 4 != 0,
# and shifts > -2 among the others (the exact fallback, group by group).
ROW_CASES = [  # w, c, stride, missing rows, ring slot of rows 0..2, clamp, shifts
    (7, 12, 1, (), (2, 0, 1), (0, 127), "fast"), (9, 8, 2, (0,), (1, 2, 0), (-128, 127), "fast"),
    (6, 16, 1, (2,), (0, 1, 2), (-100, 90), "fast"), (5, 8, 1, (1,), (2, 1, 0), (-128, 127), "fast"),
    (4, 4, 1, (0, 1, 2), (0, 1, 2), (0, 127), "fast"), (1, 8, 1, (0,), (0, 1, 2), (0, 127), "fast"),
    (2, 8, 2, (), (2, 0, 1), (-128, 127), "fast"), (2, 4, 1, (2,), (1, 2, 0), (0, 127), "fast"),
    (3, 13, 2, (2,), (1, 0, 2), (0, 127), "mixed"), (10, 20, 1, (), (0, 2, 1), (-100, 90), "mixed"),
    (8, 4, 2, (0, 2), (0, 1, 2), (0, 127), "fast"), (40, 64, 1, (), (1, 2, 0), (0, 127), "fast"),
    (11, 7, 2, (), (2, 1, 0), (-128, 127), "fast"), (12, 24, 2, (0,), (2, 1, 0), (0, 127), "mixed"),
]

ROW_MAIN = r"""
#include "rp_mbconv.h"
#include "internal/rp_nn_conv.h"
#include "rp_probe.h"

%(arrays)s
static int8_t out[%(out_size)d];

int main(void) {
%(body)s
    return 0;
}
"""

ROW_CALL = """    {
        const rp_layer_weights dw = {r%(i)d_w, r%(i)d_bias, {r%(i)d_mult, r%(i)d_shift}, %(lo)d, %(hi)d};
        const int8_t *const rows[3] = {%(rows)s};
        (void)r%(i)d_ring; /* unused when every row is missing */
        rp_nn_depthwise3x3_row_s8(&dw, rows, %(w)d, %(c)d, %(s)d, %(wo)d, out, 0);
        rp_probe_put("row%(i)d", "_crc ", rp_probe_crc32(out, %(n)d), 1);
#if RP_USE_DSP /* again with the layer's records made once (rp_mbconv_s8's fast scratch), when it has them */
        static uint32_t recs[%(c)d / 4 * RP_DW4_WORDS + 1];
        for (int32_t i = 0; i < %(n)d; i++) out[i] = 0;
        rp_nn_depthwise3x3_row_s8(&dw, rows, %(w)d, %(c)d, %(s)d, %(wo)d, out,
                                  rp_nn_depthwise4_records(recs, &dw, %(c)d) ? recs : 0);
        rp_probe_put("row%(i)d", "_records_crc ", rp_probe_crc32(out, %(n)d), 1);
#endif
    }
"""


def _row_case(rng, w, c, stride, missing, act, shifts):
    """A ring of three input rows (the slots of missing rows hold values the kernel must not read), weights and
    quantisation, and the output row they give with ring slots 0, 1, 2 as rows 0, 1, 2."""
    ring = rng.integers(-128, 128, (3, w, c))
    ring.flat[: ring.size // 8] = rng.choice([-128, 127], ring.size // 8)
    wt = rng.integers(-128, 128, (3, 3, c))
    bias = rng.integers(-9000, 9000, c)
    e = rng.integers(-9, -6, c)  # |acc| ~ 16,000, so outputs ~ 60
    if shifts == "mixed":
        some = rng.random(c) < 0.3
        e[some] = rng.choice([-1, 0, 2], int(some.sum()))
        e[1] = -1
    mult, shift = quantize_multipliers(rng.uniform(0.5, 1.0, c) * 2.0 ** e * rng.choice([-1, 1], c, p=[0.3, 0.7]))
    mult[0] = 0
    return ring, wt, bias, mult, shift


def _row_program(rng):
    arrays, body, expected = [], [], {}
    for i, (w, c, stride, missing, slots, act, shifts) in enumerate(ROW_CASES):
        ring, wt, bias, mult, shift = _row_case(rng, w, c, stride, missing, act, shifts)
        x3 = np.stack([np.zeros((w, c), np.int64) if k in missing else ring[slots[k]] for k in range(3)])
        want = fixed_ref.depthwise_s8(x3, wt, bias, mult, shift, act, 1)[1, ::stride].astype(np.int8)
        arrays += [c_array(f"r{i}_ring", ring.astype(np.int8)), c_array(f"r{i}_w", wt.astype(np.int8)),
                   c_array(f"r{i}_bias", bias.astype(np.int32)), c_array(f"r{i}_mult", mult.astype(np.int32)),
                   c_array(f"r{i}_shift", shift.astype(np.int32))]
        rows = ", ".join("0" if k in missing else f"r{i}_ring + {slots[k] * w * c}" for k in range(3))
        body.append(ROW_CALL % {"i": i, "lo": act[0], "hi": act[1], "rows": rows, "w": w, "c": c, "s": stride,
                                "wo": want.shape[0], "n": want.size})
        expected[f"row{i}_crc"] = zlib.crc32(want.tobytes())
        expected[f"row{i}_records_crc"] = expected[f"row{i}_crc"]
    out_size = max(((w - 1) // s + 1) * c for w, c, s, *_ in ROW_CASES)
    return ROW_MAIN % {"arrays": "".join(arrays), "body": "".join(body), "out_size": out_size}, expected


# The portable C on the M4 under -m slow: the same C is held bit-exact on the host (tests/harness/native).
@pytest.mark.parametrize("dsp", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["dsp", "portable"])
def test_depthwise_row_kernel_with_missing_and_unordered_rows_matches_the_reference(tmp_path, dsp):
    source, expected = _row_program(np.random.default_rng(11))
    got = run_probe(source, tmp_path, dsp, timeout=120)
    if not dsp:  # the records are the DSP build's
        expected = {k: v for k, v in expected.items() if "_records" not in k}
    bad = [(k, got.get(k), v) for k, v in expected.items() if got.get(k) != v]
    assert not bad, f"{len(bad)} of {len(expected)} rows differ (name, C CRC, NumPy CRC): {bad}"
