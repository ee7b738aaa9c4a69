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


# tanh table: T[i] = round(2^14 · tanh((i − 256) / 32)), i = 0..512, i.e. x in [−8, 8] in steps of 1/32.
TANH_LUT = np.array([round(ONE_Q14 * math.tanh((i - 256) / 32.0)) for i in range(513)], np.int64)


def _tanh_q14_interp(v):
    """The definition: table lookup with linear interpolation on clamped v (see rp_tanh_q14)."""
    v = np.clip(np.asarray(v, I64), -(1 << 17), (1 << 17) - 1)
    u = v + (1 << 17)
    idx, frac = u >> 9, u & 511
    lo = TANH_LUT[idx]
    return lo + (((TANH_LUT[np.minimum(idx + 1, 512)] - lo) * frac + 256) >> 9)


# The interpolation evaluated once at every one of the 2^18 clamped inputs: a single gather per call
# instead of a dozen array passes; identical results by construction.
_TANH_FULL = _tanh_q14_interp(np.arange(-(1 << 17), 1 << 17)).astype(np.int32)
_SIGMOID_FULL = ((ONE_Q14 + _TANH_FULL[(np.arange(-(1 << 18), 1 << 18) >> 1) + (1 << 17)]) >> 1).astype(np.int32)


def rp_tanh_q14(v):
    """tanh of a Q14 value (int32) → Q14 in [−16384, 16384]: clamp v to [−2^17, 2^17 − 1] (±8.0), then
    u = v + 2^17, i = u >> 9, f = u & 511, result T[i] + (((T[i+1] − T[i])·f + 256) >> 9)."""
    return _TANH_FULL[np.clip(v, -(1 << 17), (1 << 17) - 1) + (1 << 17)]


def rp_sigmoid_q14(v):
    """sigmoid(x) = (1 + tanh(x/2)) / 2 on Q14 values → Q14 in [0, 16384]: (16384 + rp_tanh_q14(v >> 1)) >> 1."""
    return _SIGMOID_FULL[np.clip(v, -(1 << 18), (1 << 18) - 1) + (1 << 18)]


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
