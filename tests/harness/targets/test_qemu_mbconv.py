"""The fused MBConv kernel cross-compiled for the Cortex-M4 and run on QEMU's STM32F405, DSP and portable builds,
against the unfused NumPy reference layers. Here the DSP path's wide pointwise layers are checked (rp_nn_widen_s8:
the block's input rows widened once, the depthwise row widened in place; rp_nn_pointwise_wide_s8), beside every
reason to fall back to the int8 path: a channel count off 32 or 4, a shift > -2, another clamp, a misaligned input
or scratch; with the fast scratch, whose records of the 1x1 layers are made once per call; and the residual add four
at a time (SMUAD) or one by one. The host tests
(tests/harness/native/test_mbconv.py) cover only the portable path."""

import zlib
from dataclasses import dataclass, replace

import numpy as np
import pytest

from harness.codegen.carray import c_array
from harness.model.fixed_ref import add_s8, conv_s8, depthwise_s8
from harness.model.kinds.mbconv import mbconv_records, mbconv_scratch
from harness.targets.qemu import run_probe
from tests.harness.targets.needs import EMULATOR

pytestmark = EMULATOR


@dataclass(frozen=True)
class Block:
    h: int
    w: int
    c_in: int
    hid: int
    c_out: int
    stride: int = 1
    residual: bool = False
    in_place: bool = False
    expand_act: tuple[int, int] = (0, 127)
    project_act: tuple[int, int] = (-128, 127)
    exact_shift: str = ""      # "expand" or "project": one channel's shift > -2 there (no wide path for it)
    misalign: str = ""         # "in" or "scratch": that pointer one byte off a word
    records: bool = False      # the fast scratch: the 1x1 layers' records made once (rp_mbconv_s8_get_fast_...)


BLOCKS = [
    Block(5, 7, 32, 64, 32, residual=True),                  # wide expand and project, the residual add
    Block(6, 9, 64, 128, 12, stride=2),                      # stride 2: an input row wider than a depthwise row
    Block(4, 5, 13, 32, 8),                                  # expand int8 (c_in 13), project wide
    Block(5, 6, 32, 20, 6),                                  # expand wide, project int8 (c_in 20, c_out 6)
    Block(3, 4, 64, 96, 64, residual=True, in_place=True),   # in place over the input
    Block(4, 6, 32, 32, 8, exact_shift="expand"),
    Block(4, 6, 32, 32, 8, exact_shift="project"),
    Block(3, 5, 32, 64, 16, expand_act=(-100, 90)),           # a clamp the assembly does not take
    Block(4, 5, 32, 64, 16, misalign="in"),
    Block(4, 5, 32, 64, 16, misalign="scratch"),
    Block(1, 1, 32, 32, 4),                                  # one pixel
    Block(3, 4, 128, 32, 8),                                 # four unrolled blocks of 32 (expand), one (project)
    Block(2, 3, 160, 32, 4),                                 # c_in above the unrolled 128: the int8 path
    Block(4, 5, 6, 32, 6, residual=True),                    # a residual row of 30: the add's scalar loop
    Block(5, 7, 32, 64, 32, residual=True, records=True),    # records of both 1x1 layers, made once
    Block(6, 9, 64, 128, 12, stride=2, records=True),
    Block(4, 5, 13, 32, 8, records=True),                    # the project's records alone (expand int8)
    Block(5, 6, 32, 20, 6, records=True),                    # the expand's records alone (project int8)
    Block(3, 4, 64, 96, 64, residual=True, in_place=True, records=True),
    Block(4, 6, 32, 32, 8, exact_shift="project", records=True),  # room for records the layer cannot use
    Block(4, 5, 32, 64, 16, misalign="scratch", records=True),    # records aligned up from an odd scratch
]

MAIN = r"""
#include "rp_mbconv.h"
#include "rp_probe.h"

%(arrays)s
static int8_t out[%(out_size)d] __attribute__((aligned(4)));
static int8_t scratch[%(scratch_size)d] __attribute__((aligned(4)));
static const rp_add_params add = {16384, 11000, 1 << 30, -13, -128, 127};

int main(void) {
    (void)add;
    rp_ticks_start();
%(body)s
    return 0;
}
"""

CALL = """    {
        const rp_layer_weights e = {b%(i)d_ew, b%(i)d_eb, {b%(i)d_em, b%(i)d_es}, %(elo)d, %(ehi)d};
        const rp_layer_weights d = {b%(i)d_dw, b%(i)d_db, {b%(i)d_dm, b%(i)d_ds}, 0, 127};
        const rp_layer_weights p = {b%(i)d_pw, b%(i)d_pb, {b%(i)d_pm, b%(i)d_ps}, %(plo)d, %(phi)d};
        const rp_mbconv_params params = {%(hid)d, %(s)d, e, d, p, %(add)s};
        const rp_dims in_dims = {%(h)d, %(w)d, %(ci)d}, out_dims = {%(ho)d, %(wo)d, %(co)d};
        static int8_t x[%(x_size)d] __attribute__((aligned(4)));
        int8_t *in = x + %(in_off)d, *y = %(y)s;
        for (int i = 0; i < %(n_in)d; i++) in[i] = b%(i)d_x[i];
        const rp_context ctx = {scratch + %(scratch_off)d, %(size)s};
        const uint32_t t0 = rp_ticks();
        if (rp_mbconv_s8(&ctx, &params, &in_dims, in, &out_dims, y) != RP_OK) return 2;
        const uint32_t t1 = rp_ticks();
        rp_probe_put("b%(i)d", "_crc ", rp_probe_crc32(y, %(n_out)d), 1);
        rp_probe_put("b%(i)d", "_instructions ", t1 - t0, 0);
    }
"""


def _layer(rng, o, k, exact):
    w = rng.integers(-127, 128, (o, k)).astype(np.int8)
    bias = rng.integers(-3000, 3000, o).astype(np.int32)
    mult = (rng.integers(2 ** 30, 2 ** 31 - 1, o) * rng.choice([-1, 1], o)).astype(np.int32)
    shift = rng.integers(-12, -4, o).astype(np.int32)
    if exact:
        shift[o // 2] = -1
    return w, bias, mult, shift


def _case(rng, i: int, b: Block):
    x = rng.integers(-128, 128, (b.h, b.w, b.c_in)).astype(np.int8)
    x.flat[: x.size // 8] = rng.choice([-128, 127], x.size // 8)
    ew, eb, em, es = _layer(rng, b.hid, b.c_in, b.exact_shift == "expand")
    dw, db, dm, ds = _layer(rng, b.hid, 9, False)
    dw3 = np.ascontiguousarray(dw.T.reshape(3, 3, b.hid))
    pw, pb, pm, ps = _layer(rng, b.c_out, b.hid, b.exact_shift == "project")
    y = conv_s8(x, ew.reshape(b.hid, 1, 1, b.c_in), eb, em, es, b.expand_act)
    y = depthwise_s8(y, dw3, db, dm, ds, (0, 127), b.stride)
    y = conv_s8(y, pw.reshape(b.c_out, 1, 1, b.hid), pb, pm, ps, b.project_act)
    if b.residual:
        y = add_s8(x, y, 16384, 11000, 1 << 30, -13)
    want = y.astype(np.int8)
    arrays = [c_array(f"b{i}_{k}", v) for k, v in (("x", x), ("ew", ew), ("eb", eb), ("em", em), ("es", es),
                                                     ("dw", dw3), ("db", db), ("dm", dm), ("ds", ds), ("pw", pw),
                                                     ("pb", pb), ("pm", pm), ("ps", ps))]
    ho, wo = want.shape[:2]
    v = {"i": i, "elo": b.expand_act[0], "ehi": b.expand_act[1], "plo": b.project_act[0],
         "phi": b.project_act[1], "hid": b.hid, "s": b.stride, "add": "&add" if b.residual else "0", "h": b.h,
         "w": b.w, "ci": b.c_in, "ho": ho, "wo": wo, "co": b.c_out, "x_size": x.size + 4,
         "in_off": 1 if b.misalign == "in" else 0, "y": "in" if b.in_place else "out", "n_in": x.size,
         "scratch_off": 1 if b.misalign == "scratch" else 0, "n_out": want.size,
         "size": (f"rp_mbconv_s8_get_fast_buffer_size(&params, &in_dims, {b.c_out})" if b.records
                  else "rp_mbconv_s8_get_buffer_size(&params, &in_dims)")}
    scratch = mbconv_scratch(b.w, b.c_in, b.hid, b.stride) + wo * b.c_in + 1  # + the residual's row, misalignment
    if b.records:
        scratch += mbconv_records(b.c_in, b.hid, b.c_out, b.stride)
    return "".join(arrays), CALL % v, zlib.crc32(want.tobytes()), want.size, scratch


# The portable C on the M4 under -m slow: the same C is held bit-exact on the host (tests/harness/native).
@pytest.mark.parametrize("dsp", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["dsp", "portable"])
def test_fused_mbconv_on_the_emulated_stm32f405_matches_the_reference(tmp_path, dsp):
    rng = np.random.default_rng(5)
    cases = [_case(rng, i, b) for i, b in enumerate(BLOCKS)]
    source = MAIN % {"arrays": "".join(c[0] for c in cases), "body": "".join(c[1] for c in cases),
                     "out_size": max(c[3] for c in cases), "scratch_size": max(c[4] for c in cases)}
    got = run_probe(source, tmp_path, dsp, timeout=120)
    bad = [(f"b{i}", BLOCKS[i], got.get(f"b{i}_crc"), c[2]) for i, c in enumerate(cases)
           if got.get(f"b{i}_crc") != c[2]]
    assert not bad, f"{len(bad)} of {len(cases)} blocks differ (name, block, C CRC, NumPy CRC): {bad}"
    if dsp:  # the records made once do save work: each records block against its twin without them
        for i, b in enumerate(BLOCKS):
            if b.records and b.exact_shift == "":
                twin = BLOCKS.index(replace(b, records=False))
                assert int(got[f"b{i}_instructions"]) < int(got[f"b{twin}_instructions"]), (b, got)
