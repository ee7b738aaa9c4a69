"""Which FastGRNN cells take the fast path and the compiled gates: the Python mirrors in
harness/model/kinds/rnnpool.py against rp_nn_fastgrnn_prepare itself (the host build of the kernels)."""

import ctypes as C

import numpy as np
import pytest

from harness.model.kinds.rnnpool import TANH_PAD, fastgrnn_cell_fast, gates_shift, one_index
from harness.native import kernels as hk

# s = 11 (shift -12): the folds 2^10 + b 2^11 (hard) and 2^10 + (b + 64) 2^11 (exact) stay inside +-2^30 for
# b in [-524288, 524287] and [-524352, 524223]; the exact path also needs s <= 24.
CELLS = [(-12, [524_287, -524_288], True), (-12, [524_288], True), (-12, [-524_289], True),
         (-12, [524_223, -524_352], False), (-12, [524_224], False), (-12, [-524_353], False),
         (-25, [-1, -128], False), (-25, [0], False), (-26, [-64], False), (-26, [0], True), (-31, [0], True),
         (-1, [0], False), (-2, [0], False)]


def _c_accepts(shift: int, biases, hard: bool) -> bool:
    n_h, n_in = 16, 4
    w = np.zeros((n_h, n_in + n_h), np.int16)
    b = np.resize(np.asarray(biases, np.int32), n_h)
    p = hk.FastGRNNParams(n_in, n_h, hk.ptr(w, C.c_int16), 8, 1 << 30, shift, hk.ptr(b, C.c_int32),
                          hk.ptr(b, C.c_int32), 16384, 0, int(hard), None)
    mem, g = (C.c_int32 * 2048)(), (C.c_int32 * 64)()
    fn = hk.library().rp_nn_fastgrnn_prepare
    fn.restype = C.c_int32
    return fn(C.byref(p), 0, mem, C.sizeof(mem), g, 0) > 0


@pytest.mark.parametrize("shift, biases, hard", CELLS)
def test_the_mirror_accepts_what_the_kernel_accepts(shift, biases, hard):
    assert fastgrnn_cell_fast(4, 16, shift, 8, np.asarray(biases), True, hard) == _c_accepts(shift, biases, hard)


def test_compiled_gates_only_where_the_assembly_runs_them():
    assert gates_shift(-13, 16, False, 16384, 0) == 19       # the default model's cells
    assert gates_shift(-2, 16, False, 16384, 0) == 8 and gates_shift(-25, 16, False, 16384, 0) == 31
    assert gates_shift(-26, 16, False, 16384, 0) is None     # no immediate shift of 32
    assert gates_shift(-13, 16, True, 16384, 0) is None      # hard: the C gates
    assert gates_shift(-13, 12, False, 16384, 0) is None     # not the 16-unit assembly
    assert gates_shift(-13, 16, False, 9000, 2000) is None   # not the convex update


def test_the_default_model_compiles_one_copy_of_the_gates_for_both_cells(tmp_path):
    from pathlib import Path

    from harness.codegen.generate import generate
    from harness.model.modelfile import load

    generate(load(Path(__file__).resolve().parents[3] / "fixtures" / "models" / "default.npz"), tmp_path)
    c = (tmp_path / "model.c").read_text()
    assert c.count("RP_NN_GRNN16_GATES(") == 1 and "RP_NN_GRNN16_GATES(rp_model_gates_19_one, 19, 1)" in c
    assert c.count(".gates = &rp_model_gates_19_one") == 2  # rnn1 and rnn2 share the shift and the one index


@pytest.mark.parametrize("d, one", [(0, True), (128, True), (-128 * TANH_PAD, True), (128 * TANH_PAD, True),
                                    (128 * TANH_PAD + 128, False), (-128 * TANH_PAD - 128, False), (64, False),
                                    (1, False), (-127, False)])
def test_one_index_where_bg_minus_bh_is_on_the_grid_within_the_padding(d, one):
    bh = np.array([3 * 128, -5 * 128, 7, 1 << 18], np.int32)
    assert one_index(bh + d, bh) is one
    assert one_index(np.r_[bh + d, bh], np.r_[bh, bh]) is one  # every unit must suit


def test_the_quantiser_puts_gate_biases_on_the_tables_grid():
    from harness.model.quantize import quantize
    from harness.model.random_init import random_model
    from harness.model.synthetic import synthetic_images

    q = quantize(random_model("rpool-face-m4", seed=3, height=48, width=64), synthetic_images(48, 64, 2, seed=1)).arrays
    for cell in ("rnn1", "rnn2"):
        for b in ("bg", "bh"):
            got, real = q[f"q/{cell}.{b}"], np.asarray(q[f"{cell}.{b}"], np.float64) * 16384
            assert (got % 128 == 0).all() and np.abs(got - real).max() <= 64
