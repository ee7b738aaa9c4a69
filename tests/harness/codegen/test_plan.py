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


def test_in_place_chain_shares_bytes():
    # input → stem (written 8 bytes below its input) → pooled (over stem): one region of 108 bytes
    bufs = [Buffer("input", 100, 0, 0, "g", 8), Buffer("stem", 100, 0, 1, "g", 0), Buffer("pooled", 60, 1, 3, "g", 0),
            Buffer("scratch", 40, 1, 1), Buffer("late", 40, 2, 3)]
    mp = plan(bufs)
    assert overlaps(mp) == []
    assert mp.offset("input") - mp.offset("stem") == 8 and mp.offset("pooled") == mp.offset("stem")
    assert mp.arena_bytes == 140            # the scratch sits after stem, over the dead input's tail
    assert mp.offset("late") == 60          # in the group's dead tail: stem died at step 1
    assert lower_bound(bufs) <= mp.arena_bytes


def test_overlap_outside_a_handover_is_caught():
    a, b = Buffer("a", 10, 0, 2, "g"), Buffer("b", 10, 1, 3, "g")  # alive together for two steps: no handover
    assert overlaps(MemoryPlan((Placement(a, 0), Placement(b, 0)), 10, 1)) == [("a", "b")]
    c, d = Buffer("c", 10, 0, 1, "g"), Buffer("d", 10, 1, 2, "h")  # handover timing but different groups
    assert overlaps(MemoryPlan((Placement(c, 0), Placement(d, 0)), 10, 1)) == [("c", "d")]


def test_random_schedules_with_groups_never_overlap():
    rng = np.random.default_rng(1)
    for trial in range(200):
        bufs, step = [], 0
        for i in range(int(rng.integers(2, 8))):  # an in-place chain
            size, rel = int(rng.integers(1, 3000)), 4 * int(rng.integers(-8, 8))
            bufs.append(Buffer(f"c{i}", size, step, step + 1, "chain", rel))
            step += 1
        for i in range(int(rng.integers(0, 15))):
            first = int(rng.integers(0, step + 2))
            bufs.append(Buffer(f"t{i}", int(rng.integers(0, 3000)), first, first + int(rng.integers(0, 4))))
        mp = plan(bufs, alignment=4)
        assert overlaps(mp) == [], trial
        assert all(p.offset % 4 == 0 and p.offset >= 0 for p in mp.placements)
        rel = {b.name: b.rel for b in bufs if b.group}
        assert len({mp.offset(n) - r for n, r in rel.items()}) == 1, trial  # relative offsets kept
