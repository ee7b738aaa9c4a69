"""Row streaming's planner (harness/codegen/rings.py) on the default model: a schedule that computes every row once
and only from rows that exist, the rings it needs, and what streaming would and would not save."""

import dataclasses
from pathlib import Path

import pytest

from harness.codegen.floor import raster_floor
from harness.codegen.generate import plan_model
from harness.codegen.rings import hybrid_arena, plan_rings
from harness.errors import CodegenError
from harness.model.layers import kind, register, unregister
from harness.model.modelfile import load
from harness.protocol.rowcode import upload_scratch

ROOT = Path(__file__).parents[3]


@pytest.fixture(scope="module")
def planned():
    graph, today = plan_model(load(ROOT / "fixtures" / "models" / "default.npz"))
    return graph, today, plan_rings(graph, upload_scratch(graph.tensors["input"].shape[1]))


def test_every_row_is_computed_once_and_only_from_rows_that_exist(planned):
    graph, _, plan = planned
    t = graph.tensors
    produced = {name: 0 for name in t}
    steps = {s.name: s for s in graph.steps}
    last_arrived = 0
    for arrived, name, y in plan.order:
        assert arrived >= last_arrived
        last_arrived = arrived
        produced["input"] = arrived
        s = steps[name]
        assert produced[s.output] == y, f"{name} row {y} out of order"
        w = kind(s.kind).rows(s.layer)
        for i in s.inputs:  # an independent check of the window: every row it reads was made before
            assert w.needs(y, t[i].shape[0])[1] < produced[i], f"{name} row {y} before {i} had its rows"
        produced[s.output] += 1
    rows_made = {s.output for s in graph.steps if not kind(s.kind).rows(s.layer).sink}
    assert all(produced[n] == t[n].shape[0] for n in rows_made)
    assert plan.after_row(1) == [] and plan.after_row(2) == [("stem", 0)]  # stem row 0 reads input rows 0 and 1


def test_rings_are_the_kernels_windows(planned):
    _, _, plan = planned
    rings = {r.tensor: r for r in plan.rings}
    assert rings["input"].rows == 3 and rings["stem"].rows == 8  # the stem's 3 rows; one RNNPool patch row's 8
    assert all(r.rows <= 3 for name, r in rings.items() if name not in ("input", "stem"))
    whole = sum(r.height * r.row_bytes for r in plan.rings)
    assert sum(r.bytes for r in plan.rings) * 9 < whole  # rings hold a ninth of the feature maps


def test_streaming_the_whole_network_with_todays_kernels_saves_nothing(planned):
    # The finding docs/streaming.md explains: a pipeline keeps every layer's scratch (the MBConv's three expanded
    # rows, RNNPool's sequences) alive at once, which the layer-by-layer plan reuses.
    # The firmware streams only its front (the stem and RNNPool in place over the image rows they consume), which
    # costs RNNPool's scratch and the upload ring beside the rows still to come: 2,116 B.
    graph, today, plan = planned
    assert plan.floor > today.arena_bytes
    unstreamed = hybrid_arena(graph, 0, upload_scratch(320))  # nothing streamed: layer by layer
    assert unstreamed == 103_168 and today.arena_bytes == unstreamed + 2_116
    assert min(hybrid_arena(graph, k, upload_scratch(320)) for k in range(len(graph.steps) + 1)) == unstreamed


def test_a_kind_without_a_row_window_cannot_stream_or_have_a_floor(planned):
    graph = planned[0]
    register(dataclasses.replace(kind("stem"), name="stem-without-rows", rows=None))
    try:
        odd = dataclasses.replace(graph, steps=(dataclasses.replace(graph.steps[0], kind="stem-without-rows"),)
                                  + graph.steps[1:])
        with pytest.raises(CodegenError, match=r"layer stem \(stem-without-rows\) cannot stream"):
            plan_rings(odd)
        with pytest.raises(CodegenError, match=r"layer stem \(stem-without-rows\) gives no row window"):
            raster_floor(odd)  # nor a floor (harness/codegen/floor.py)
    finally:
        unregister("stem-without-rows")
