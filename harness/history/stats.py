"""The significance test behind the gate on noisy latency (real boards' cycles), with numpy and the standard library.

Mann–Whitney U makes no assumption about the noise's shape (board timings are skewed: interrupts and cache misses
only ever add cycles), and ranks shrug off the odd outlier a mean-based test would chase.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from itertools import combinations

import numpy as np

EXACT_MAX = 8  # both samples at most this size: the exact p-value (C(16, 8) = 12,870 splits at most)


def _ranks(pooled: np.ndarray) -> np.ndarray:
    """1-based ranks, ties sharing their mean rank."""
    order = np.argsort(pooled, kind="mergesort")
    ranks = np.empty(len(pooled))
    values = pooled[order]
    start = 0
    for end in range(1, len(values) + 1):
        if end == len(values) or values[end] != values[start]:
            ranks[order[start:end]] = (start + end + 1) / 2.0  # mean of ranks start+1 … end
            start = end
    return ranks


def mann_whitney_greater(a: Sequence[float], b: Sequence[float]) -> float:
    """One-sided p-value of the hypothesis that values in ``b`` tend to be larger than those in ``a``.

    Both samples of at most ``EXACT_MAX`` values: exact, by enumerating every way to split the pooled ranks (mean
    ranks for ties) into groups of the two sizes: p = the share of splits whose ``b`` rank sum is at least the one
    observed. Larger samples: the normal approximation with the tie correction of the variance and a continuity
    correction of 0.5. No evidence either way (an empty sample, or every value equal) gives 1.0.
    """
    a, b = np.asarray(a, dtype=float).ravel(), np.asarray(b, dtype=float).ravel()
    na, nb = len(a), len(b)
    if na == 0 or nb == 0:
        return 1.0
    pooled = np.concatenate([a, b])
    if np.all(pooled == pooled[0]):
        return 1.0
    ranks = _ranks(pooled)
    if na <= EXACT_MAX and nb <= EXACT_MAX:
        return _exact_greater(ranks, nb, float(ranks[na:].sum()))
    u = float(ranks[na:].sum()) - nb * (nb + 1) / 2.0  # pairs (a_i, b_j) with b_j > a_i, ties counting one half
    n = na + nb
    _, counts = np.unique(pooled, return_counts=True)
    ties = float(np.sum(counts.astype(float) ** 3 - counts))
    variance = na * nb / 12.0 * ((n + 1) - ties / (n * (n - 1)))
    if variance <= 0:
        return 1.0
    z = (u - na * nb / 2.0 - 0.5) / math.sqrt(variance)
    return min(1.0, 0.5 * math.erfc(z / math.sqrt(2.0)))


def _exact_greater(ranks: np.ndarray, nb: int, observed: float) -> float:
    # Conditional on the ties observed: every assignment of nb of the pooled ranks to b is equally likely under H0.
    # Doubled ranks are integers, so the comparison with the observed sum is exact.
    doubled = np.rint(2 * ranks).astype(np.int64)
    target = int(round(2 * observed))
    total = at_least = 0
    for chosen in combinations(doubled.tolist(), nb):
        total += 1
        at_least += sum(chosen) >= target
    return at_least / total


def relative_samples(base_fixture_samples: Sequence[Sequence[float]],
                     now_fixture_samples: Sequence[Sequence[float]]) -> tuple[np.ndarray, np.ndarray]:
    """Pool samples over fixtures as ratios to each fixture's baseline median.

    Fixtures differ in cost (a crowded scene takes longer than an empty one), so raw samples cannot be pooled; as
    ratios to the fixture's baseline median they share one scale and one test covers them all. Both arguments list
    the samples of the same fixtures in the same order; a fixture with a zero (or no) baseline median is skipped.
    With one sample per fixture every baseline ratio is exactly 1 and the test asks whether the new ratios sit
    consistently above 1 across fixtures: n fixtures can reach at best p = 1 / C(2n, n) (n = 5: 0.004).
    """
    if len(base_fixture_samples) != len(now_fixture_samples):
        raise ValueError(f"{len(base_fixture_samples)} baseline fixtures but {len(now_fixture_samples)} new ones")
    base_ratios, now_ratios = [], []
    for base, now in zip(base_fixture_samples, now_fixture_samples):
        if len(base) == 0 or len(now) == 0:
            continue
        scale = float(np.median(base))
        if scale == 0:
            continue
        base_ratios.extend(np.asarray(base, dtype=float) / scale)
        now_ratios.extend(np.asarray(now, dtype=float) / scale)
    return np.asarray(base_ratios, dtype=float), np.asarray(now_ratios, dtype=float)
