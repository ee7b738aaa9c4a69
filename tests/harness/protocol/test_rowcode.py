"""The image's row code (harness/protocol/rowcode.py) and the firmware's decoder of it (firmware/protocol, host
build): every image comes back exactly, in order or out of it, and a malformed stream is refused, never decoded."""

import random
from pathlib import Path

import numpy as np
import pytest

from harness.errors import ProtocolError
from harness.model.image import load_image
from harness.protocol import rowcode
from tests.harness.protocol.c_upload import CUpload

FIXTURES = Path(__file__).parents[3] / "fixtures"
_rng = np.random.default_rng(7)
EDGE_IMAGES = {
    "one pixel": np.array([[200]], np.uint8),
    "one row": _rng.integers(0, 256, (1, 37), np.uint8),
    "one column": _rng.integers(0, 256, (23, 1), np.uint8),
    "black": np.zeros((9, 17), np.uint8),
    "white": np.full((9, 17), 255, np.uint8),
    "checkerboard 0/255": (np.indices((12, 20)).sum(0) % 2 * 255).astype(np.uint8),
    "spikes on black": np.kron(np.eye(4, dtype=np.uint8), np.array([[0, 0, 0], [0, 200, 0], [0, 0, 0]], np.uint8)),
    "noise": _rng.integers(0, 256, (16, 40), np.uint8),                           # every row goes raw
    "ramp wrapping at 255": (np.arange(30 * 30) % 256).astype(np.uint8).reshape(30, 30),
    "faint noise": (128 + _rng.integers(-3, 4, (20, 50))).astype(np.uint8),
}


def _fixture_images() -> dict[str, np.ndarray]:
    paths = sorted((FIXTURES / "scenes").glob("scene-00[0-3].png")) + sorted((FIXTURES / "photos").glob("*.png"))
    return {p.name: load_image(str(p), 240, 320) for p in paths}


def _c_decode(stream: bytes, h: int, w: int, order: list[tuple[int, int]] | None = None) -> CUpload:
    device = CUpload(h, w)
    assert device.start("rows", len(stream)) == "ok"
    for at, n in order or [(0, len(stream))]:
        assert device.chunk(at, stream[at:at + n]) == "ok"
    return device


@pytest.mark.parametrize("name", list(EDGE_IMAGES))
def test_every_edge_image_comes_back_exactly_from_python_and_from_the_firmware(name):
    image = EDGE_IMAGES[name]
    stream = rowcode.encode(image)
    assert np.array_equal(rowcode.decode(stream, *image.shape), image)
    device = _c_decode(stream, *image.shape)
    assert device.complete and device.image == image.tobytes()


def test_the_edge_images_take_each_path_of_the_code():
    def rows(image):
        starts = rowcode.row_starts(stream := rowcode.encode(image), image.shape[0])
        return [int.from_bytes(stream[s:s + 2], "little") for s in starts[:-1]], stream

    heads, _ = rows(EDGE_IMAGES["noise"])
    assert all(h & rowcode.RAW_FLAG for h in heads)
    heads, _ = rows(EDGE_IMAGES["black"])
    assert not any(h & rowcode.RAW_FLAG for h in heads) and max(heads) == 3  # 17 one-bit codes: 3 bytes a row
    m = rowcode.residuals(EDGE_IMAGES["spikes on black"])
    k = rowcode.rice_k(rowcode.contexts(m))
    assert ((m >> k) >= rowcode.ESCAPE).any()  # escapes are coded (and the row test above decodes them)


def test_fixture_scenes_and_photographs_decode_exactly_on_the_firmware_in_any_chunk_order():
    rng = random.Random(5)
    for name, image in _fixture_images().items():
        stream = rowcode.encode(image)
        assert len(stream) < image.size, name
        ring = CUpload(*image.shape).ring_bytes
        # chunks of 1–480 bytes, each sent once in an order shuffled within the ring's reach of the lowest missing
        cuts, at = [], 0
        while at < len(stream):
            n = min(rng.randint(1, 480), len(stream) - at)
            cuts.append((at, n))
            at += n
        starts = rowcode.row_starts(stream, image.shape[0])
        order, pending = [], list(cuts)
        while pending:
            lowest = pending[0][0]
            row_start = max(s for s in starts if s <= lowest)
            fits = [c for c in pending if c[0] + c[1] <= row_start + ring]
            pick = rng.choice(fits[:6])
            order.append(pick)
            pending.remove(pick)
        device = _c_decode(stream, *image.shape, order)
        assert device.complete and device.image == image.tobytes(), name


def test_resent_and_overlapping_chunks_change_nothing():
    image = _fixture_images()["scene-000.png"]
    stream = rowcode.encode(image)
    device = CUpload(*image.shape)
    device.start("rows", len(stream))
    for at in range(0, len(stream), 300):
        for a, b in ((at, at + 400), (at, at + 100), (max(at - 200, 0), at + 50)):  # late copies of decoded bytes
            assert device.chunk(a, stream[a:min(b, len(stream))]) == "ok"
    assert device.complete and device.image == image.tobytes()


def test_a_chunk_beyond_the_ring_is_refused_not_stored():
    image = _fixture_images()["scene-000.png"]
    stream = rowcode.encode(image)
    device = CUpload(*image.shape)
    device.start("rows", len(stream))
    assert device.chunk(device.ring_bytes - 10, stream[device.ring_bytes - 10:device.ring_bytes + 10]) == \
        "beyond-ring"
    assert device.chunk(device.ring_bytes - 10, stream[device.ring_bytes - 10:device.ring_bytes]) == "ok"


def _stream_with_row0(head: int, body: bytes, width: int = 8) -> bytes:
    return head.to_bytes(2, "little") + body


@pytest.mark.parametrize("case, stream, message", [
    ("code runs past its bytes", _stream_with_row0(1, b"\xff"), "runs past"),
    ("a byte left unused", _stream_with_row0(3, b"\x00\x00\x00"), "used 1 of its 3"),
    ("raw row of the wrong width", _stream_with_row0(rowcode.RAW_FLAG | 7, bytes(7)), "claims 7 bytes raw"),
    ("stream ends early", _stream_with_row0(9, bytes(3)), "claims 9 bytes"),
])
def test_a_malformed_stream_is_refused_by_both_decoders(case, stream, message):
    with pytest.raises(ProtocolError, match=message):
        rowcode.decode(stream, 1, 8)
    device = CUpload(1, 8)
    assert device.start("rows", len(stream)) == "ok"
    assert device.chunk(0, stream) == "bad-row", case
    assert not device.complete


def test_a_start_the_image_cannot_have_is_refused():
    device = CUpload(4, 8)
    assert device.start("raw", 31) == "outside" and device.start("raw", 32) == "ok"
    assert device.start("rows", 7) == "outside"          # fewer bytes than a header per row
    assert device.start("rows", 4 * (8 + 2) + 1) == "outside"  # more than every row raw
    assert device.start("jpeg", 32) == "outside"


def test_the_code_pays_on_the_fixtures_and_more_on_photographs():
    ratios = {name: image.size / len(rowcode.encode(image)) for name, image in _fixture_images().items()}
    scenes = [r for n, r in ratios.items() if n.startswith("scene")]
    photos = [r for n, r in ratios.items() if not n.startswith("scene")]
    assert min(scenes) > 1.2 and min(photos) > 2.0, ratios
