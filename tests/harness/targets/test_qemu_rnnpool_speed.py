"""rp_rnnpool_s8's two paths (fast: 32-bit, regrouped weights; generic: rp_nn_fastgrnn_step) bit for bit against the
NumPy reference on edge layers, on the host and on QEMU's STM32F405, and its instruction budget on the emulator
(bench/rnnpool_instructions.py prints the counts)."""

import ctypes as C
import importlib.util
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest

from harness.native import kernels as hk
from harness.model.kinds.rnnpool import TANH_PAD
from harness.model.qmath import SIGMOID_TABLE, TANH_TABLE
from tests.harness.targets.needs import EMULATOR

ROOT = Path(__file__).resolve().parents[3]
_spec = importlib.util.spec_from_file_location("bench_rnnpool_instructions", ROOT / "bench" / "rnnpool_instructions.py")
bench = sys.modules.setdefault(_spec.name, importlib.util.module_from_spec(_spec))
_spec.loader.exec_module(bench)

# RNNPool at 320x240 (issue 17: 96.5 M DSP / 164 M portable before its assembly; its goal 45 M DSP): the exact
# and the hard nonlinearities, DSP and portable builds, each about 5 % above today's count (42.9 M, 73.2 M; 105.2 M,
# 118.1 M).
BUDGETS = {True: {"rnnpool": 45_000_000, "rnnpool_hard": 76_800_000},
           False: {"rnnpool": 110_400_000, "rnnpool_hard": 124_000_000}}



@pytest.mark.parametrize("name, want, crc", [("tanh", TANH_TABLE, 0xEFC8EF28), ("sigmoid", SIGMOID_TABLE, 0x5A0A88DF)])
def test_the_firmware_tables_are_the_specified_ones(name, want, crc):
    fn = getattr(hk.library(), f"rp_nn_{name}_table")
    fn.restype = C.POINTER(C.c_int16)
    start = C.cast(C.cast(fn(), C.c_void_p).value - 1024 * 2, C.POINTER(C.c_int16))  # it points at entry 0
    table = np.ctypeslib.as_array(start, (2048,))
    assert zlib.crc32(table.astype("<i2").tobytes()) == crc
    assert np.array_equal(table, want)


def test_the_edge_layers_reach_both_paths():
    paths = [bench.fast_path(cs) for cs in bench.edge_cases()]
    assert any(paths) and not all(paths)


@pytest.mark.parametrize("case", bench.edge_cases(), ids=lambda cs: cs.name)
def test_edge_layers_are_bit_exact_on_the_host(case):
    got = hk.rnnpool(case.x, case.q1, case.q2, case.patch, case.stride, case.hard, case.out_mult, case.out_shift)
    want = case.expected
    assert got.shape == want.shape and np.array_equal(got, want), int((got != want).sum())


@EMULATOR[0]
@EMULATOR[1]
@EMULATOR[2]
# The portable C on the M4 under -m slow: the same C is held bit-exact on the host (tests/harness/native).
@pytest.mark.parametrize("dsp", [True, pytest.param(False, marks=pytest.mark.slow)], ids=["dsp", "portable"])
def test_rnnpool_on_the_emulated_stm32f405_is_bit_exact_and_within_budget(tmp_path, dsp):
    cases = bench.model_cases() + bench.edge_cases()
    got = bench.measure(cases, dsp, tmp_path)
    for name, (match, count) in got.items():
        print(f"{'dsp' if dsp else 'portable'} {name}: {count:,} instructions")
        assert match, name
    for name, budget in BUDGETS[dsp].items():
        assert 1_000_000 < got[name][1] <= budget, (name, got[name][1])
    if dsp:  # one table index per unit where bg - bh suits (edge21), else two (edge22: RNN1; edge23: neither)
        assert got["edge21"][1] < got["edge22"][1] < got["edge23"][1]


def test_the_tanh_table_repeats_its_ends_over_its_padding():
    fn = hk.library().rp_nn_tanh_table
    fn.restype = C.POINTER(C.c_int16)
    start = C.cast(C.cast(fn(), C.c_void_p).value - (1024 + TANH_PAD) * 2, C.POINTER(C.c_int16))
    table = np.ctypeslib.as_array(start, (2048 + 2 * TANH_PAD,))
    assert (table[:TANH_PAD] == -16384).all() and (table[-TANH_PAD:] == 16384).all()
    assert np.array_equal(table[TANH_PAD:-TANH_PAD], TANH_TABLE)
    # Why the one-index gates stay exact when the sigmoid's index was clamped: tanh's index then lies within the
    # padding of a table end, and the table is flat there (from |i| = 710 on).
    assert (TANH_TABLE[: TANH_PAD + 1] == -16384).all() and (TANH_TABLE[-TANH_PAD - 1:] == 16384).all()


def test_the_tanh_padding_is_the_kernels_own():
    header = (ROOT / "firmware" / "include" / "internal" / "rp_nn_rnn.h").read_text()
    assert f"#define RP_NN_TANH_PAD {TANH_PAD}\n" in header
