"""Mann–Whitney U against hand-computed values and brute force; pooling fixtures as ratios."""

from __future__ import annotations

import math
from itertools import combinations

import numpy as np
import pytest

from harness.history.stats import mann_whitney_greater, relative_samples


def brute_force_greater(a, b) -> float:
    """Exact p by counting pairs for every split of the pooled values (independent of the rank arithmetic)."""
    pooled, nb = list(a) + list(b), len(b)

    def u(bs, as_):
        return sum((y > x) + 0.5 * (y == x) for y in bs for x in as_)

    observed = u(b, a)
    total = hits = 0
    for chosen in combinations(range(len(pooled)), nb):
        rest = [pooled[i] for i in range(len(pooled)) if i not in chosen]
        total += 1
        hits += u([pooled[i] for i in chosen], rest) >= observed - 1e-9
    return hits / total


def test_exact_small_case_by_hand():
    # b above every a: U = 9, reached by 1 of the C(6, 3) = 20 splits.
    assert mann_whitney_greater([1, 2, 3], [4, 5, 6]) == pytest.approx(1 / 20)
    # One swap: U = 8, reached or beaten by 2 splits.
    assert mann_whitney_greater([1, 2, 4], [3, 5, 6]) == pytest.approx(2 / 20)
    assert mann_whitney_greater([4, 5, 6], [1, 2, 3]) == pytest.approx(1.0)


@pytest.mark.parametrize("a, b", [([1, 1, 2], [2, 3, 3]), ([5, 5, 6, 7], [5, 6, 6, 8, 9]),
                                  ([1.0, 2.0, 2.0, 3.0, 4.0], [2.0, 3.0, 3.0, 5.0]), ([3, 1, 2], [2])])
def test_exact_with_ties_matches_brute_force(a, b):
    assert mann_whitney_greater(a, b) == pytest.approx(brute_force_greater(a, b))


def test_normal_approximation_with_ties_by_hand():
    a, b = list(range(1, 10)), list(range(5, 14))  # 9 each: past the exact limit; 5..9 tied in pairs
    u = 4.5 + 5.5 + 6.5 + 7.5 + 8.5 + 4 * 9  # 68.5: each b counts the a below it, ties one half
    n = 18
    variance = 9 * 9 / 12 * ((n + 1) - 5 * (2**3 - 2) / (n * (n - 1)))
    z = (u - 9 * 9 / 2 - 0.5) / math.sqrt(variance)
    expected = 0.5 * math.erfc(z / math.sqrt(2))
    assert expected == pytest.approx(0.0074541575, rel=1e-8)
    assert mann_whitney_greater(a, b) == pytest.approx(expected, rel=1e-12)


def test_no_evidence_gives_one_or_a_half():
    assert mann_whitney_greater([7.0] * 5, [7.0] * 5) == 1.0  # zero pooled variance
    assert mann_whitney_greater([7.0] * 20, [7.0] * 20) == 1.0
    assert mann_whitney_greater([], [1.0]) == 1.0
    same = [1.0, 2.0, 3.0, 4.0, 5.0]
    assert 0.5 <= mann_whitney_greater(same, same) <= 0.7
    many = list(np.linspace(0, 1, 30))
    assert mann_whitney_greater(many, many) == pytest.approx(0.5, abs=0.03)


def test_clear_shifts():
    rng = np.random.default_rng(7)
    a = rng.normal(1.0, 0.01, 25)
    assert mann_whitney_greater(a, a * 1.05) < 1e-8
    assert mann_whitney_greater(a * 1.05, a) > 0.999999
    assert mann_whitney_greater(a[:5], a[:5] * 1.05) == pytest.approx(1 / 252)  # C(10, 5) splits, exact


def test_relative_samples_pool_fixtures_of_different_cost():
    cheap, dear = [100.0, 101.0, 99.0], [1000.0, 1020.0, 980.0]
    base, now = relative_samples([cheap, dear], [[105.0, 106.0, 104.0], [1050.0, 1070.0, 1030.0]])
    assert base == pytest.approx([1.0, 1.01, 0.99, 1.0, 1.02, 0.98])
    assert now == pytest.approx([1.05, 1.06, 1.04, 1.05, 1.07, 1.03])
    assert mann_whitney_greater(base, now) < 0.01


def test_relative_samples_skip_unusable_fixtures():
    base, now = relative_samples([[0.0, 0.0], [], [10.0]], [[5.0, 5.0], [3.0], [11.0]])
    assert base.tolist() == [1.0] and now.tolist() == pytest.approx([1.1])
    with pytest.raises(ValueError):
        relative_samples([[1.0]], [])
