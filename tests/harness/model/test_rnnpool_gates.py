"""Which FastGRNN cells take the fast path and the compiled gates: the Python mirrors in
harness/model/kinds/rnnpool.py against rp_nn_fastgrnn_prepare itself (the host build of the kernels)."""

import ctypes as C

import numpy as np
import pytest

from harness.model.kinds.rnnpool import fastgrnn_cell_fast, gates_shift
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
    return fn(C.byref(p), 0, mem, C.sizeof(mem), g) > 0


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
    assert c.count("RP_NN_GRNN16_GATES(") == 1 and "RP_NN_GRNN16_GATES(rp_model_gates_19, 19)" in c
    assert c.count(".gates = &rp_model_gates_19") == 2  # rnn1 and rnn2 share the shift
