"""rnnpool_macs counts the multiply-accumulates rp_rnnpool_s8 performs: here against a literal walk of its fast
path (run_fast in firmware/kernels/rnn/rp_rnnpool_s8.c) and of its generic path, over several shapes."""

import pytest

from harness.model.kinds.rnnpool import rnnpool_macs


def _walk(h, w, c, h1, h2, P, S, fast):
    """The kernel's traversal, step by step: which cell runs, over what, from which state."""
    ph, pw = (h - P) // S + 1, (w - P) // S + 1
    macs, rows_done = 0, 0
    rnn1 = lambda: h1 * c + (P - 1) * h1 * (c + h1) if fast else P * h1 * (c + h1)  # noqa: E731
    for pi in range(ph):
        y0 = pi * S
        for _ in range(max(rows_done, y0), y0 + P):
            macs += pw * rnn1()                      # row summaries of every patch column
            if fast:
                macs += pw * h2 * h1                 # each projected once, for every patch that reads it
        rows_done = y0 + P
        if not fast:
            macs += ((pw - 1) * S + P) * rnn1()      # column summaries of the whole patch row
            macs += pw * 4 * P * h2 * (h1 + h2)      # four RNN2 runs per patch, [W | U] every step
            continue
        cols_done = 0
        for pj in range(pw):
            x0 = pj * S
            for _ in range(max(cols_done, x0), x0 + P):
                macs += rnn1() + h2 * h1             # a column summary, then its projection
            cols_done = x0 + P
            macs += 4 * (P - 1) * h2 * h2            # four runs of U h from h = 0 (the first step is the projection)
    return macs


@pytest.mark.parametrize("shape", [(120, 160, 4, 16, 16, 8, 4), (16, 100, 4, 16, 16, 8, 4), (17, 108, 5, 16, 12, 8, 8),
                                   (11, 53, 3, 12, 8, 5, 3), (5, 30, 2, 4, 4, 1, 1)])
@pytest.mark.parametrize("fast", [True, False], ids=["fast", "generic"])
def test_rnnpool_macs_are_the_kernels_own(shape, fast):
    h, w, c, h1, h2, P, S = shape
    cfg = {"rnnpool": {"hidden1": h1, "hidden2": h2, "patch": P, "stride": S}}
    grid = ((h - P) // S + 1, (w - P) // S + 1)
    assert rnnpool_macs(cfg, (h, w, c), grid, fast) == _walk(h, w, c, h1, h2, P, S, fast)


def test_the_default_models_rnnpool_performs_a_quarter_fewer_macs_than_its_graph():
    cfg = {"rnnpool": {"hidden1": 16, "hidden2": 16, "patch": 8, "stride": 4}}
    assert rnnpool_macs(cfg, (120, 160, 4), (29, 39)) == 31_966_208
    assert rnnpool_macs(cfg, (120, 160, 4), (29, 39), fast=False) == 42_389_504
