import numpy as np
import pytest

from harness.codegen.plan import Buffer, MemoryPlan, Placement, lower_bound, overlaps, plan
from harness.errors import CodegenError


def test_ping_pong_chain_reuses_memory():
    # a → b → c → d, each alive for two steps: two slots suffice.
    bufs = [Buffer(n, 100, i, i + 1) for i, n in enumerate("abcd")]
    mp = plan(bufs)
    assert overlaps(mp) == [] and mp.arena_bytes == 200 == lower_bound(bufs)
    assert mp.offset("a") == mp.offset("c") != mp.offset("b") == mp.offset("d")


def test_long_lived_buffer_is_never_overwritten():
    bufs = [Buffer("residual", 64, 0, 3), Buffer("x", 128, 1, 2), Buffer("y", 128, 2, 3), Buffer("z", 16, 0, 0)]
    mp = plan(bufs)
    assert overlaps(mp) == [] and mp.arena_bytes == lower_bound(bufs) == 320


def test_alignment_and_order():
    mp = plan([Buffer("a", 3, 0, 1), Buffer("b", 5, 0, 1)], alignment=8)
    assert mp.offset("b") == 0 and mp.offset("a") == 8 and mp.arena_bytes == 16
    assert [p.buffer.name for p in mp.placements] == ["a", "b"]


def test_random_schedules_never_overlap_and_stay_near_the_bound():
    rng = np.random.default_rng(0)
    for trial in range(200):
        bufs = []
        for i in range(int(rng.integers(1, 25))):
            first = int(rng.integers(0, 30))
            bufs.append(Buffer(f"t{i}", int(rng.integers(0, 5000)), first, first + int(rng.integers(0, 6))))
        mp = plan(bufs, alignment=4)
        assert overlaps(mp) == [], trial
        assert lower_bound(bufs) <= mp.arena_bytes <= 2 * lower_bound(bufs) + 4 * len(bufs)


def test_checker_catches_a_bad_plan():
    a, b = Buffer("a", 10, 0, 2), Buffer("b", 10, 2, 3)
    assert overlaps(MemoryPlan((Placement(a, 0), Placement(b, 5)), 15, 1)) == [("a", "b")]
    assert overlaps(MemoryPlan((Placement(a, 0), Placement(Buffer("c", 10, 3, 4), 0)), 10, 1)) == []


@pytest.mark.parametrize("bufs, message", [
    ([Buffer("a", 1, 0, 0), Buffer("a", 1, 1, 1)], "repeat"),
    ([Buffer("a", -1, 0, 0)], "not valid"),
    ([Buffer("a", 1, 3, 2)], "not valid"),
])
def test_inconsistent_buffers_are_refused(bufs, message):
    with pytest.raises(CodegenError, match=message):
        plan(bufs)
