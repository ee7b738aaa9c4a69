"""harness/protocol/transport.py and window.py without an emulator: the estimators, and the image upload through the
fault injector to an in-process device that handles IMAGE_START and IMAGE_CHUNK as firmware/app/device.c does (the
firmware's own upload receiver, host build: tests/harness/protocol/c_upload.py; ACKs name the offsets of the last
three chunks accepted)."""

import random
import struct
import time
from pathlib import Path

import numpy as np
import pytest
import serial

from harness.model.image import load_image
from harness.protocol.frames import Frame, FrameDecoder, Kind, encode_frame
from harness.protocol.session import DeviceInfo, Session
from harness.protocol.messages import pack_ack, unpack_chunk
from tests.harness.protocol.c_upload import CUpload
from harness.protocol.transport import FRAME_OVERHEAD, Rtt, Sizer, Transport
from harness.targets.faulty_link import FaultyLink, parse_faults
from tests.harness.protocol.test_session import hello_payload


@pytest.mark.parametrize("p, lo, hi", [(0.0, 480, 480), (0.005, 30, 70), (0.01, 20, 45), (0.02, 16, 32)])
def test_the_sizer_settles_near_the_best_size_for_the_error_rate(p, lo, hi):
    rng, sizer = random.Random(1), Sizer(16, 480)
    for _ in range(400):
        wire = sizer.size + FRAME_OVERHEAD
        sizer.outcome(wire, rng.random() > (1 - p) ** wire)
    assert lo <= sizer.size <= hi


def test_the_sizer_shrinks_within_a_few_losses_when_a_clean_line_turns_bad():
    # a long clean history must not outvote the news: at 1 % a 480-byte chunk almost never arrives, and each try
    # can cost a retransmission timeout
    sizer = Sizer(16, 480)
    for _ in range(48):
        sizer.outcome(495, lost=False)
    losses = 0
    while sizer.size > 60:
        sizer.outcome(sizer.size + FRAME_OVERHEAD, lost=True)
        losses += 1
        assert losses <= 5, f"still {sizer.size} bytes after {losses} losses in a row"


def test_the_sizer_does_not_panic_at_a_chance_run_of_losses():
    rng, sizer = random.Random(3), Sizer(16, 480)
    sizes = []
    for _ in range(2000):
        wire = sizer.size + FRAME_OVERHEAD
        sizer.outcome(wire, rng.random() > (1 - 0.01) ** wire)
        sizes.append(sizer.size)
    assert min(sizes[400:]) >= 14 and sum(sizes[400:]) / len(sizes[400:]) >= 22


def test_the_retransmission_timer_follows_rfc_6298_and_backs_off():
    rtt = Rtt(initial=0.5, lo=0.05, hi=2.0)
    assert rtt.rto == 0.5
    rtt.sample(0.1)
    assert rtt.rto == pytest.approx(0.1 + 4 * 0.05)
    for _ in range(3):
        rtt.timed_out()
    assert rtt.rto == pytest.approx(0.3 * 4)  # doubled twice at most: a noisy line must not sit idle
    rtt.sample(0.1)  # a clean sample ends the back-off
    assert rtt.rto < 0.3


class ChunkDevice:
    """In-process firmware stand-in for the upload: a pyserial-like link."""

    def __init__(self, h: int, w: int, ring_bytes: int | None = None, layer: bytes = b""):
        self.upload, self.timeout, self.layer = CUpload(h, w, ring_bytes), 0.0, layer
        self.refused: list[str] = []
        self._out, self._decoder, self._accepted = bytearray(), FrameDecoder(), []
        self._last_seq, self._nak_armed = 0, True

    def write(self, data: bytes) -> int:
        for byte in data:  # byte by byte, as the firmware's receive loop
            dropped = self._decoder.dropped
            for f in self._decoder.feed(bytes([byte])):
                self._last_seq, self._nak_armed = f.seq, True
                self._handle(f)
            if self._decoder.dropped != dropped and self._nak_armed:  # once per intact frame, naming the last
                self._out += encode_frame(Frame(Kind.NAK, self._last_seq, struct.pack("<I", self._decoder.dropped)))
                self._nak_armed = False
        return len(data)

    def _handle(self, f: Frame) -> None:
        if f.kind == Kind.LAYER_REQUEST:  # any layer reads as ``layer`` (enough for the piece reader)
            layer, at, n = struct.unpack("<HIH", f.payload)
            self._out += encode_frame(Frame(Kind.LAYER_DATA, f.seq, f.payload[:6] + self.layer[at:at + n]))
        if f.kind == Kind.IMAGE_START:
            status = self.upload.start({0: "raw", 1: "rows"}.get(f.payload[0], "?"),
                                       int.from_bytes(f.payload[1:4], "little"))
            self._answer(f.seq, status, b"")
        if f.kind == Kind.IMAGE_CHUNK:
            offset, data = unpack_chunk(f.payload)
            status = self.upload.chunk(offset, data)
            if status == "ok":
                self._accepted = [offset, *self._accepted][:3]
            self._answer(f.seq, status, pack_ack(self._accepted))

    def _answer(self, seq: int, status: str, ack: bytes) -> None:
        if status != "ok":
            self.refused.append(status)
        self._out += encode_frame(Frame(Kind.ACK, seq, ack) if status == "ok" else
                                  Frame(Kind.ERROR, seq, status.encode()))

    @property
    def image(self) -> bytes:
        return self.upload.image

    def read(self, n: int = 1) -> bytes:
        out, self._out = bytes(self._out[:n]), self._out[n:]
        return out

    def reset_input_buffer(self) -> None:
        self._out.clear()


SCENE = load_image(str(Path(__file__).parents[3] / "fixtures/scenes/scene-003.png"), 240, 320)[96:144, 128:192]


def _session(link, codec: str, ring: int = 2048, budget: float = 15.0) -> Session:
    session = Session(link, budget=budget, codec=codec)
    session.info = DeviceInfo.parse(hello_payload(input="48x64", caps="layer-dump,fault,rows", coded_ring=str(ring)))
    return session


@pytest.mark.parametrize("codec", ["raw", "rows"])
@pytest.mark.parametrize("faults", ["flip:0.01", "drop:0.01", "duplicate:0.01", "garbage:0.01", "burst:1e-3:64",
                                    "flip:0.02,drop:0.02"])
def test_the_upload_arrives_whole_through_every_kind_of_damage(faults, codec):
    device = ChunkDevice(*SCENE.shape)
    link = FaultyLink(device, parse_faults(faults), seed=3)
    session = _session(link, codec, budget=5.0)
    session.upload(SCENE)
    assert device.image == SCENE.tobytes() and device.upload.complete and not device.refused
    assert session.last_upload.codec == codec and (session.last_upload.ratio > 1.2) == (codec == "rows")
    assert session.stats.retransmits > 0 and sum(link.counts["to-device"].values()) > 0
    assert session.up.size < 480  # it adapted


@pytest.mark.parametrize("faults", ["drop:0.01", "burst:1e-3:64"])
def test_a_coded_upload_never_sends_beyond_a_small_ring_even_while_holes_wait(faults):
    device = ChunkDevice(*SCENE.shape, ring_bytes=256)  # two rows of 64 and their headers: the least it takes
    session = _session(FaultyLink(device, parse_faults(faults), seed=5), "rows", ring=256, budget=5.0)
    session.upload(SCENE)
    assert device.image == SCENE.tobytes() and not device.refused and session.stats.retransmits > 0


def test_a_device_without_the_row_code_gets_the_raw_image():
    device = ChunkDevice(*SCENE.shape)
    session = Session(device, codec="rows")
    session.info = DeviceInfo.parse(hello_payload(input="48x64"))  # no "rows" in caps, no coded-ring
    session.upload(SCENE)
    assert device.image == SCENE.tobytes() and session.last_upload.codec == "raw"


def test_a_clean_upload_uses_the_largest_chunks_and_resends_nothing():
    image = np.arange(48 * 64, dtype=np.uint32).astype(np.uint8).reshape(48, 64)
    device = ChunkDevice(48, 64)
    session = _session(device, "raw")
    session.upload(image)
    assert device.image == image.tobytes()
    # IMAGE_START, then the chunks
    assert session.stats.retransmits == 0 and session.stats.frames_sent == 1 + -(-image.size // 480)


@pytest.mark.parametrize("faults", ["flip:0.01", "drop:0.01", "garbage:0.01,duplicate:0.01"])
def test_a_long_read_arrives_whole_in_pieces_through_damage(faults):
    layer = np.random.default_rng(1).integers(0, 256, 3000, np.uint8).tobytes()
    device = ChunkDevice(1, 1, layer=layer)
    link = FaultyLink(device, parse_faults(faults), seed=4)
    session = Session(link, budget=5.0)
    session.info = DeviceInfo.parse(hello_payload())
    assert session.read_layer(2, 3000) == layer
    assert session.stats.retransmits > 0 and session.down.size < 1000  # pieces were lost, and got smaller


def test_a_frame_whose_closing_delimiter_was_lost_counts_as_damaged_once_the_line_is_quiet():
    # Without this a request waits for its full timer (an ACKed RUN: a poll seconds away) for an answer that ended
    # in a damaged delimiter and so never completes.
    loop = serial.serial_for_url("loop://", timeout=0)
    transport = Transport(loop)
    loop.write(encode_frame(Frame(Kind.RESULT, 5, b"result"))[:-1])  # the trailing 0x00 lost
    start = time.monotonic()
    damaged = 0
    while not damaged and time.monotonic() - start < 2.0:
        frames, damaged = transport.read(time.monotonic() + 0.05)
        assert frames == []
    assert damaged == 1 and time.monotonic() - start < 0.5
    loop.write(encode_frame(Frame(Kind.RESULT, 6, b"next")))  # and the next frame is intact
    assert transport.read(time.monotonic() + 0.5)[0] == [Frame(Kind.RESULT, 6, b"next")]
