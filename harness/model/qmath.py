"""Integer primitives of the fixed-point model. Each is mirrored bit for bit by a C function of the same name
(``rp_requantize`` …) in the firmware; docs/numerics.md is the written specification.

All functions take and return int64 NumPy arrays (wide enough for every intermediate; C uses int32 values with
int64 products). ``>>`` is an arithmetic shift, i.e. floor division by a power of two.
"""

from __future__ import annotations

import math

import numpy as np

I64 = np.int64
Q14 = 14
ONE_Q14 = 1 << Q14


def requantize(acc, mult, shift):
    """round(acc · mult · 2^(shift−31)), ties towards +∞: (acc·mult + 2^(30−shift)) >> (31−shift).

    ``mult`` is a Q31 multiplier with 2^30 ≤ |mult| < 2^31 (or 0), ``shift`` in [−31, 30]. Both broadcast
    (per-channel parameters along the last axis).
    """
    acc = np.asarray(acc, I64)
    total = 31 - np.asarray(shift, I64)
    return (acc * np.asarray(mult, I64) + (np.int64(1) << (total - 1))) >> total


def quantize_multiplier(real: float) -> tuple[int, int]:
    """Real multiplier → (mult, shift) for :func:`requantize`; multipliers below 2^−32 become (0, 0)."""
    if real == 0 or abs(real) < 2.0 ** -32:
        return 0, 0
    m, e = math.frexp(abs(real))  # real = m · 2^e, 0.5 ≤ m < 1
    mult = round(m * (1 << 31))
    if mult == 1 << 31:
        mult, e = 1 << 30, e + 1
    if e > 30:
        raise ValueError(f"multiplier {real} is too large for requantize (max 2^30)")
    return (mult if real > 0 else -mult), e


def quantize_multipliers(reals) -> tuple[np.ndarray, np.ndarray]:
    pairs = [quantize_multiplier(float(r)) for r in np.ravel(reals)]
    return np.array([p[0] for p in pairs], np.int32), np.array([p[1] for p in pairs], np.int32)


def saturate(x, lo: int, hi: int):
    return np.clip(x, lo, hi)


# The nonlinearity tables (docs/numerics.md §4.1): x = i / 128 for i = −1024 … 1023, i.e. [−8, 8) in steps of 1/128.
# Stored from i = −1024 on: entry i sits at index i + 1024.
LUT_STEP_SHIFT = 7            # a Q14 value v indexes i = round(v / 2^7), i.e. x rounded to the nearest 1/128
LUT_HALF = 1 << 10            # 1024
TANH_TABLE = np.array([round(ONE_Q14 * math.tanh(i / 128.0)) for i in range(-LUT_HALF, LUT_HALF)], I64)
SIGMOID_TABLE = np.array([round(ONE_Q14 / (1.0 + math.exp(-i / 128.0))) for i in range(-LUT_HALF, LUT_HALF)], I64)


def rp_q14_index(v):
    """The table entry of a Q14 value: clamp((v + 64) >> 7, −1024, 1023) (round half up), counted from −1024."""
    half = 1 << (LUT_STEP_SHIFT - 1)
    return np.clip((np.asarray(v, I64) + half) >> LUT_STEP_SHIFT, -LUT_HALF, LUT_HALF - 1) + LUT_HALF


def rp_tanh_q14(v):
    """tanh of a Q14 value → Q14 in [−16384, 16384]: TANH_TABLE at x = v / 2^14 rounded to the nearest 1/128."""
    return TANH_TABLE[rp_q14_index(v)]


def rp_sigmoid_q14(v):
    """sigmoid of a Q14 value → Q14 in [5, 16378]: SIGMOID_TABLE at x = v / 2^14 rounded to the nearest 1/128."""
    return SIGMOID_TABLE[rp_q14_index(v)]


def rp_hard_sigmoid_q14(v):
    """clip((x + 1) / 2, 0, 1) on Q14 values."""
    return np.clip((np.asarray(v, I64) + ONE_Q14) >> 1, 0, ONE_Q14)


def rp_hard_tanh_q14(v):
    """clip(x, −1, 1) on Q14 values."""
    return np.clip(np.asarray(v, I64), -ONE_Q14, ONE_Q14)


def rp_isqrt(v):
    """floor(sqrt(v)) for 0 ≤ v < 2^32, exact."""
    v = np.asarray(v, I64)
    r = np.floor(np.sqrt(v.astype(np.float64))).astype(I64)
    r = np.where(r * r > v, r - 1, r)
    return np.where((r + 1) * (r + 1) <= v, r + 1, r)
