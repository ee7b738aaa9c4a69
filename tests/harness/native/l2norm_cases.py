"""L2Norm inputs that reach every path of rp_l2norm_s8, shared by the host test (tests/harness/native) and the
emulator one (tests/harness/targets): channel counts 1 to 512 (S * 256 up to 2^31), all-zero pixels, extremes, sums
of squares that are perfect squares or one off, one shift <= -2 for every channel (the hoisted 32-bit path), mixed
shifts and shifts >= -1 (rp_requantize_clamp); and pixels whose square root single precision rounds up (the FPU
root's correction), with outputs that change when it is missed."""

from math import isqrt

import numpy as np

from harness.model.qmath import quantize_multipliers

CASES = [  # h, w, c, shifts, exponent of the multipliers
    (3, 5, 32, "same", -12), (2, 3, 64, "same", -12), (1, 4, 512, "same", -12), (2, 2, 7, "mixed", -12),
    (3, 1, 1, "same", -12), (2, 4, 13, "exact", 0),
]
# S * 256 = k^2 - 1 with k = 1 mod 128 (so that 256 divides it): sqrtf rounds sqrt(k^2 - 1) up to k, one above
# the floor; near k = 4096, 2^24 / n then moves by one, and with S spread over 512 channels of about +-11 (outputs
# about 60) some outputs change with it.
ROUNDS_UP = (4097, 4225, 4353, 4481)


def l2norm_cases(seed: int = 11) -> list[tuple[str, np.ndarray, np.ndarray, np.ndarray]]:
    """(name, x [H, W, C] int8, mult [C], shift [C])."""
    rng = np.random.default_rng(seed)
    cases = []
    for i, (h, w, c, shifts, e) in enumerate(CASES):
        x = rng.integers(-128, 128, (h, w, c))
        x[0, 0] = 0                                    # an all-zero pixel stays zero
        x[-1, -1] = rng.choice([-128, 127], c)         # extremes: c = 512 gives S * 256 = 2^31
        if c >= 2 and h * w > 2:                       # S = m^2 and m^2 + 1
            x[0, 1] = 0
            x[0, 1, 0], x[0, 1, 1] = rng.integers(1, 128), 1
            x[0, 2 % w if w > 2 else 0] = 0
            x[0, 2 % w if w > 2 else 0, 0] = rng.integers(1, 128)
        cases.append((f"l2norm{i}", x, *_quant(rng, c, shifts, e)))
    rows = [_spread((k * k - 1) // 256, 512) * rng.choice([-1, 1], 512) for k in ROUNDS_UP]
    cases.append(("l2norm_roots", np.array(rows)[None], *_quant(rng, 512, "same", -9)))
    return [(name, x.astype(np.int8), mult, shift) for name, x, mult, shift in cases]


def _quant(rng, c: int, shifts: str, e: int) -> tuple[np.ndarray, np.ndarray]:
    exps = {"same": np.full(c, e), "mixed": rng.integers(e - 1, e + 2, c), "exact": rng.integers(-3, 2, c)}[shifts]
    mult, shift = quantize_multipliers(rng.uniform(0.5, 1.0, c) * 2.0 ** exps)
    if shifts == "same":
        shift[:] = shift[0]  # one exponent; the multipliers still differ per channel
    return mult.astype(np.int32), shift.astype(np.int32)


def _spread(total: int, c: int) -> np.ndarray:
    """c values of at most 128 whose squares sum to ``total``: c - 4 alike, the rest from four squares."""
    for top in range(isqrt(total // c), -1, -1):
        rest = _four_squares(total - (c - 4) * top * top)
        if rest is not None:
            return np.array([top] * (c - 4) + rest)
    raise AssertionError(f"no {c} squares of at most 128^2 sum to {total}")


def _four_squares(n: int) -> list[int] | None:
    """Four values of at most 128 whose squares sum to n, or None."""
    for a in range(min(isqrt(n), 128), -1, -1):
        if 4 * a * a < n:
            return None
        for b in range(min(isqrt(n - a * a), a), -1, -1):
            if 3 * b * b < n - a * a:
                break
            for c in range(min(isqrt(n - a * a - b * b), b), -1, -1):
                d2 = n - a * a - b * b - c * c
                if c * c < d2:
                    break
                if isqrt(d2) ** 2 == d2:
                    return [a, b, c, isqrt(d2)]
    return None
