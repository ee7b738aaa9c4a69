"""The raster-order floor (harness/codegen/floor.py) on the default model: the line buffers by hand, the in-place
accounting of a part, and the best split against every split tried one by one."""

import dataclasses
import itertools
from pathlib import Path

import pytest

from harness.codegen.floor import _closed_sets, _part, raster_floor
from harness.codegen.generate import plan_model
from harness.errors import CodegenError
from harness.model.layers import RowWindow
from harness.model.modelfile import load
from harness.protocol.rowcode import upload_scratch

ROOT = Path(__file__).parents[3]


@pytest.fixture(scope="module")
def graph():
    return plan_model(load(ROOT / "fixtures" / "models" / "default.npz"))[0]


def test_a_window_holds_the_pixels_between_the_oldest_read_and_the_newest():
    assert RowWindow(3, 1, 1).pixels(40) == 2 * 40 + 3   # a 3x3: two lines and three pixels
    assert RowWindow(8, 4).pixels(160) == 7 * 160 + 8    # an 8x8 patch
    assert RowWindow(2, 1, 0).pixels(40) == 40 + 2       # the residual's pixel, read again a line and a pixel later
    assert RowWindow(1).pixels(40) == 1 and RowWindow(sink=True).pixels(40) == 1
    assert RowWindow(3, 1, 1).pixels(40, "row") == 3 * 40 and RowWindow(sink=True).pixels(40, "row") == 40


def test_the_default_models_floor_is_its_pipeline_of_line_buffers(graph):
    floor = raster_floor(graph, upload_scratch(320))
    p = floor.pipeline
    assert floor.parts == (p,) and floor.bytes == p.bytes
    carries = dict(p.carries)  # the depthwise's expanded line buffer: (2 W + 3) pixels of `hidden` channels
    assert carries == {"mb0": 83 * 128, "mb1": 83 * 64, "mb2": 83 * 64, "mb3": 43 * 128}
    windows = dict(p.windows)
    assert windows["input"] == 2 * 320 + 3                  # the stem's 3x3, stride 2, one channel
    assert windows["stem"] == (7 * 160 + 8) * 4             # an RNNPool patch row over 4 channels
    assert windows["mb0"] == (40 + 2) * 32                  # mb1's residual
    assert windows["l2norm0"] == 83 * 32                    # the heads' 3x3
    assert windows["head0.loc"] == 4 * 2                    # the candidates take each pixel as it comes
    assert p.whole == (("candidates", 512 * 14),) and p.upload == upload_scratch(320)
    assert p.bytes == sum(carries.values()) + sum(windows.values()) + 512 * 14 + upload_scratch(320) == 55_415


def test_over_rings_of_rows_no_split_of_the_default_model_fits_64_kb(graph):
    # The pipeline issue 18 describes: every window whole rows. Its best split streams stem … mb0 and keeps mb0's
    # output whole for the rest; that first part alone leaves 512 B of 64 KB for the stack, the statics and every
    # kernel temporary.
    floor = raster_floor(graph, upload_scratch(320), "row")
    first = floor.parts[0]
    assert first.steps == ("stem", "rnnpool", "mb0") and first.produced == (("mb0", 38_400),)
    assert dict(first.windows) == {"input": 3 * 320, "stem": 8 * 160 * 4, "rnnpool": 40 * 64}
    assert first.carries == (("mb0", 3 * 40 * 128),)  # three expanded rows
    assert floor.bytes == first.bytes == 960 + 5_120 + 2_560 + 15_360 + 38_400 + upload_scratch(320) == 65_024
    assert floor.pipeline.bytes == 80_192 and 65_536 - floor.bytes == 512
    with pytest.raises(CodegenError, match="floor unit 'tile'"):
        raster_floor(graph, 0, "tile")


def test_a_part_between_whole_tensors_holds_one_of_them_at_a_time(graph):
    before = frozenset(s.name for s in graph.steps[:6])  # stem … head0.loc: mb0 is read later, by mb1
    assert graph.steps[6].name == "mb1"
    part = _part(graph, before, frozenset({"mb1"}), upload_scratch(320))
    assert part.consumed == (("mb0", 38_400),) and part.produced == (("mb1", 38_400),)
    # in place, as the firmware runs it: mb0's pixels free as mb1's are made
    assert part.bytes == 38_400 + 83 * 64 + 512 * 14 and part.upload == 0


def _brute_force(graph, upload):
    """The least peak over every chain of closed sets, tried one by one (for a few layers)."""
    sets = sorted(_closed_sets(graph), key=len)
    everything = sets[-1]
    best = None
    for k in range(len(sets)):
        for middle in itertools.combinations(sets[1:-1], k):
            chain = (frozenset(), *middle, everything)
            if all(a < b for a, b in zip(chain, chain[1:])):
                peak = max(_part(graph, a, b - a, upload).bytes for a, b in zip(chain, chain[1:]))
                best = peak if best is None else min(best, peak)
    return best


def test_the_best_split_is_the_least_peak_of_every_split(graph):
    # the first seven layers (stem, RNNPool, mb0, l2norm0, head0's two, mb1), then with mb0 and mb1 widened until
    # their line buffers outweigh keeping mb0's output whole between them
    steps = list(graph.steps[:7])
    assert [s.name for s in steps[::2]] == ["stem", "mb0", "head0.conf", "mb1"]
    for i in (2, 6):
        wide = dataclasses.replace(steps[i].layer, spec={**steps[i].layer.spec, "hidden": 1024})
        steps[i] = dataclasses.replace(steps[i], layer=wide)
    small = dataclasses.replace(graph, steps=tuple(steps))
    for g in (small, dataclasses.replace(graph, steps=graph.steps[:7])):
        floor = raster_floor(g, 100)
        assert floor.bytes == _brute_force(g.without_spare(), 100)
    assert len(raster_floor(small, 100).parts) > 1  # a wide block's line buffer outweighs keeping a tensor whole

