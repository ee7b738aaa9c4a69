"""The C kernels cross-compiled for the Cortex-M4 and run on QEMU's STM32F405: same bytes as the reference."""

import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest

from harness.codegen.carray import c_array
from harness.model import fixed_ref
from harness.model.fixed_ref import _p, run_fixed
from harness.model.kinds.rnnpool import rnnpool_scratch
from harness.model.modelfile import load
from harness.targets.qemu import run_probe
from tests.harness.native.l2norm_cases import l2norm_cases
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR

ROOT = Path(__file__).resolve().parents[3]

MAIN = r"""
#include "rp_kernels.h"
#include "rp_probe.h"

%(arrays)s
static int8_t stem[%(stem_size)d];
static int8_t pooled[%(pooled_size)d];
static int16_t scratch[%(scratch_words)d];



int main(void) {
    /* gates 0: the generic gates (the compiled ones: bench/rnnpool_instructions.py) */
    const rp_fastgrnn_params r1 = {4, 16, rnn1_w, %(r1_xs)d, %(r1_mult)d, %(r1_shift)d, rnn1_bg, rnn1_bh, %(r1_zeta)d,
                                   %(r1_nu)d, %(hard)d, 0};
    const rp_fastgrnn_params r2 = {16, 16, rnn2_w, %(r2_xs)d, %(r2_mult)d, %(r2_shift)d, rnn2_bg, rnn2_bh, %(r2_zeta)d,
                                   %(r2_nu)d, %(hard)d, 0};
    const rp_rnnpool_params rp = {8, 4, &r1, &r2, %(out_mult)d, %(out_shift)d};
    const rp_dims image_dims = {240, 320, 1}, stem_dims = {120, 160, 4}, pooled_dims = {30, 40, 64};
    const rp_context ctx = {scratch, sizeof scratch};
    const rp_conv_params cp = {3, 2, %(in_offset)d, 0, 127};
    const rp_quant_params q = {stem_mult, stem_shift};
    const rp_dims f_dims = {3, 3, 1};
    rp_ticks_start();
    uint32_t t0 = rp_ticks();
    if (rp_conv2d_u8_s8(&cp, &q, &image_dims, image, &f_dims, stem_w, stem_bias, &stem_dims, stem) != RP_OK) return 3;
    uint32_t t1 = rp_ticks();
    if (rp_rnnpool_s8(&ctx, &rp, &stem_dims, stem, &pooled_dims, pooled) != RP_OK) return 2;
    uint32_t t2 = rp_ticks();
    rp_probe_put("stem", "_crc ", rp_probe_crc32(stem, sizeof stem), 1);
    rp_probe_put("rnnpool", "_crc ", rp_probe_crc32(pooled, sizeof pooled), 1);
    rp_probe_put("stem", "_instructions ", t1 - t0, 0);
    rp_probe_put("rnnpool", "_instructions ", t2 - t1, 0);
    return 0;
}
"""


def _program(model, image) -> tuple[str, dict]:
    a = model.arrays
    L = run_fixed(model, image).layers
    q1, q2, r, st = _p(a, "rnn1"), _p(a, "rnn2"), _p(a, "rnnpool"), _p(a, "stem")
    arrays = "".join([
        c_array("image", image), c_array("stem_w", st["w"]), c_array("stem_bias", st["bias"]),
        c_array("stem_mult", st["mult"]), c_array("stem_shift", st["shift"]),
        c_array("rnn1_w", q1["w"]), c_array("rnn1_bg", q1["bg"]), c_array("rnn1_bh", q1["bh"]),
        c_array("rnn2_w", q2["w"]), c_array("rnn2_bg", q2["bg"]), c_array("rnn2_bh", q2["bh"]),
    ])
    scratch = rnnpool_scratch(model.config, L["stem"].shape, (29, 39))
    values = {"arrays": arrays, "pooled_size": L["rnnpool"].size, "stem_size": L["stem"].size,
              "in_offset": int(model.config["quant"]["input_offset"]),
              "scratch_words": scratch // 2, "hard": int(model.config["nonlinearity"] == "hard"),
              "out_mult": int(r["out_mult"]), "out_shift": int(r["out_shift"])}
    for tag, q in (("r1", q1), ("r2", q2)):
        values.update({f"{tag}_{k}": int(q[key]) for k, key in (("xs", "x_shift"), ("mult", "mult"),
                                                                ("shift", "shift"), ("zeta", "zeta"), ("nu", "nu"))})
    expected = {"rnnpool_crc": zlib.crc32(L["rnnpool"].tobytes()), "stem_crc": zlib.crc32(L["stem"].tobytes())}
    return MAIN % values, expected


# The portable C on the M4 under -m slow: the same C is held bit-exact on the host (tests/harness/native).
@pytest.mark.parametrize("dsp", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["dsp", "portable"])
def test_stem_and_rnnpool_on_the_emulated_stm32f405_match_the_reference(tmp_path, dsp):
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    image = cv2.imread(str(ROOT / "fixtures" / "scenes" / "scene-009.png"), cv2.IMREAD_GRAYSCALE)
    source, expected = _program(model, image)
    got = run_probe(source, tmp_path, dsp, timeout=600)
    assert got["rnnpool_crc"] == expected["rnnpool_crc"]
    assert got["stem_crc"] == expected["stem_crc"]
    assert got["rnnpool_instructions"] > 1_000_000


L2NORM_MAIN = r"""
#include "rp_kernels.h"
#include "rp_probe.h"

%(arrays)s
static int8_t out[%(out_size)d];

int main(void) {
%(body)s
    return 0;
}
"""

L2NORM_CALL = """    {
        const rp_quant_params q = {%(n)s_mult, %(n)s_shift};
        const rp_dims d = {%(h)d, %(w)d, %(c)d};
        if (rp_l2norm_s8(&q, &d, %(n)s_x, out) != RP_OK) return 4;
        rp_probe_put("%(n)s", "_crc ", rp_probe_crc32(out, %(size)d), 1);
    }
"""


# Both builds: the DSP one's sum of squares (SMLAD) and its FPU square root with correction, and the portable one's.
@pytest.mark.parametrize("dsp", [True, False], ids=["dsp", "portable"])
def test_l2norm_on_the_emulated_stm32f405_matches_the_reference(tmp_path, dsp):
    cases = l2norm_cases()
    arrays = "".join(c_array(f"{n}_x", x) + c_array(f"{n}_mult", m) + c_array(f"{n}_shift", s)
                     for n, x, m, s in cases)
    body = "".join(L2NORM_CALL % {"n": n, "h": x.shape[0], "w": x.shape[1], "c": x.shape[2], "size": x.size}
                   for n, x, _, _ in cases)
    got = run_probe(L2NORM_MAIN % {"arrays": arrays, "body": body, "out_size": max(x.size for _, x, _, _ in cases)},
                    tmp_path, dsp, timeout=120)
    bad = [n for n, x, m, s in cases if got[f"{n}_crc"] != zlib.crc32(fixed_ref.l2norm_s8(x, m, s).astype(np.int8))]
    assert not bad, f"differ from the reference: {bad}"
