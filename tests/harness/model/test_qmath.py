"""The integer primitives against exact Python-integer and real-number definitions."""

import math
from fractions import Fraction

import numpy as np
import pytest

from harness.model import qmath


def _requantize_exact(acc: int, mult: int, shift: int) -> int:
    """round(acc · mult · 2^(shift−31)) with ties towards +∞, in exact rationals."""
    return math.floor(Fraction(acc * mult, 2 ** (31 - shift)) + Fraction(1, 2))


def test_requantize_matches_exact_rounding():
    rng = np.random.default_rng(0)
    acc = rng.integers(-2**31, 2**31, size=2000)
    mult = rng.integers(2**30, 2**31, size=2000) * rng.choice([-1, 1], size=2000)
    shift = rng.integers(-31, 31, size=2000)
    got = qmath.requantize(acc, mult, shift)
    for a, m, s, g in zip(acc, mult, shift, got):
        assert g == _requantize_exact(int(a), int(m), int(s)), (a, m, s)


@pytest.mark.parametrize("acc", [-3, -2, -1, 1, 2, 3])
def test_requantize_ties_round_up(acc):
    # multiplier 0.5 exactly: 2^30 with shift 0
    assert qmath.requantize(acc, 1 << 30, 0) == math.floor(acc / 2 + 0.5)


@pytest.mark.parametrize("real", [1e-9, 3.1e-5, 0.25, 0.7, 1.0, 1.9999, 123.456, -0.3])
def test_quantize_multiplier_is_accurate(real):
    mult, shift = qmath.quantize_multiplier(real)
    assert 2**30 <= abs(mult) < 2**31 and -31 <= shift <= 30
    assert mult * 2.0 ** (shift - 31) == pytest.approx(real, rel=2**-30)


def test_quantize_multiplier_tiny_is_zero():
    assert qmath.quantize_multiplier(2.0 ** -40) == (0, 0)


def test_the_tables_are_the_functions_rounded_at_every_128th():
    i = np.arange(-1024, 1024)
    assert np.array_equal(qmath.TANH_TABLE, np.round(16384 * np.tanh(i / 128)))
    assert np.array_equal(qmath.SIGMOID_TABLE, np.round(16384 / (1 + np.exp(-i / 128))))
    assert qmath.TANH_TABLE[1024] == 0 and qmath.SIGMOID_TABLE[1024] == 8192
    assert np.array_equal(qmath.TANH_TABLE[1:], -qmath.TANH_TABLE[1:][::-1])  # odd, entry −1024 aside
    assert (np.diff(qmath.TANH_TABLE) >= 0).all() and (np.diff(qmath.SIGMOID_TABLE) >= 0).all()


def test_the_index_rounds_half_up_and_clamps():
    v = np.array([-(2**40), -131137, -131136, -65, -64, 0, 63, 64, 130943, 130944, 2**40])
    assert (qmath.rp_q14_index(v) - 1024).tolist() == [-1024, -1024, -1024, -1, 0, 0, 0, 1, 1023, 1023, 1023]
    assert (qmath.rp_q14_index([-131072 - 64 - 1, 130880]) - 1024).tolist() == [-1024, 1023]


def test_tanh_and_sigmoid_close_to_real_functions():
    v = np.arange(-(1 << 19), 1 << 19, 7)
    x = v / 16384.0
    # half a step (1/256) times the steepest slope (1 and 1/4), plus the table's rounding: measured 64.3 and 16.4
    assert np.abs(qmath.rp_tanh_q14(v) - 16384 * np.tanh(x)).max() <= 64.5
    assert np.abs(qmath.rp_sigmoid_q14(v) - 16384 / (1 + np.exp(-x))).max() <= 16.5


def test_hard_nonlinearities():
    v = np.array([-40000, -16384, -1, 0, 1, 16384, 40000])
    assert qmath.rp_hard_tanh_q14(v).tolist() == [-16384, -16384, -1, 0, 1, 16384, 16384]
    assert qmath.rp_hard_sigmoid_q14(v).tolist() == [0, 0, 8191, 8192, 8192, 16384, 16384]


def test_isqrt_exact():
    rng = np.random.default_rng(1)
    v = np.concatenate([np.arange(0, 5000), rng.integers(0, 2**32, 20000), [2**32 - 1]])
    got = qmath.rp_isqrt(v)
    assert all(int(g) == math.isqrt(int(x)) for g, x in zip(got, v))
