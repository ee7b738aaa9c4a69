"""harness/codegen/graph.py's spare scratch (DeviceStep.spare): granted only where the planned arena stays as it is
without any, so a faster kernel never costs RAM."""

from harness.cli.common import load_model
from harness.codegen import graph
from harness.codegen.plan import plan
from harness.model.kinds.conv_s16 import conv_ring_bytes
from harness.model.kinds.mbconv import mbconv_records


def test_the_default_model_gets_its_spare_scratch_where_ram_is_idle_and_the_arena_stays_the_same(monkeypatch):
    model = load_model(None, fixed=True)
    granted = graph.device_graph(model)
    monkeypatch.setattr(graph, "_grant_spare", lambda g, spare: g)
    bare = graph.device_graph(model)
    extra = {b.name: a.scratch - b.scratch for a, b in zip(granted.steps, bare.steps) if a.scratch != b.scratch}
    # mb0 and the heads of levels 0 and 1's loc run when the arena is fullest; every other candidate has room
    assert set(extra) == {"mb1", "mb2", "mb3", "head0.conf", "head1.conf", "head2.conf", "head2.loc", "head3.conf",
                          "head3.loc"}
    for s in bare.steps:  # each grant is the kind's whole spare: the MBConv records, the heads' ring
        src = bare.tensors[s.inputs[0]].shape
        if s.name in extra and s.kind == "mbconv":
            blk = s.layer.spec
            assert extra[s.name] == mbconv_records(src[2], blk["hidden"], bare.tensors[s.output].shape[2],
                                                   blk["stride"])
        elif s.name in extra:
            assert extra[s.name] == conv_ring_bytes(src[1], src[2])
    assert plan(granted.buffers()).arena_bytes == plan(bare.buffers()).arena_bytes == 105_284


def test_spare_that_would_grow_the_arena_is_refused_and_spare_in_idle_ram_is_granted():
    g = graph.device_graph(load_model(None, fixed=True))
    names = [s.name for s in g.steps]
    # mb0 runs with its input (76,800 B) and its scratch: 4 KB more would grow the arena
    more = [0] * len(names)
    more[names.index("mb0")] = 4096
    assert graph._grant_spare(g, more).steps[names.index("mb0")].scratch == g.steps[names.index("mb0")].scratch
    # l2norm2 runs with most of the arena idle: 1 KB more fits in it
    more = [0] * len(names)
    more[names.index("l2norm2")] = 1024
    grown = graph._grant_spare(g, more)
    assert grown.steps[names.index("l2norm2")].scratch == g.steps[names.index("l2norm2")].scratch + 1024
    assert plan(grown.buffers()).arena_bytes == plan(g.buffers()).arena_bytes
