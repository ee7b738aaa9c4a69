"""The firmware's framing (firmware/protocol, host build) against the Python side: frames cross both ways, damage
is dropped and counted, and the decoder's buffer never overflows."""

import ctypes as C
import random
import struct
import zlib

import pytest
from cobs import cobs

from harness.build.host import FIRMWARE, build_host_library
from harness.protocol.frames import MAX_PAYLOAD, Frame, FrameDecoder, Kind, encode_frame


class CFrame(C.Structure):
    _fields_ = [("kind", C.c_uint8), ("seq", C.c_uint8), ("length", C.c_uint16), ("payload", C.POINTER(C.c_uint8))]


WIRE_MAX = MAX_PAYLOAD + 6 + (MAX_PAYLOAD + 6) // 254 + 3  # RP_FRAME_WIRE_MAX of firmware/protocol/rp_frame.h


class CDecoder(C.Structure):
    _fields_ = [("buf", C.c_uint8 * WIRE_MAX), ("n", C.c_int32), ("dropped", C.c_uint32)]


@pytest.fixture(scope="module")
def lib():
    lib = C.CDLL(str(build_host_library(extra=FIRMWARE / "protocol").path))
    lib.rp_crc32.restype = C.c_uint32
    lib.rp_crc32.argtypes = [C.c_uint32, C.c_char_p, C.c_int32]
    lib.rp_frame_encode.argtypes = [C.c_uint8, C.c_uint8, C.c_char_p, C.c_int32, C.c_char_p, C.c_int32]
    lib.rp_frame_feed.argtypes = [C.POINTER(CDecoder), C.c_uint8, C.POINTER(CFrame)]
    return lib


def c_encode(lib, frame: Frame) -> bytes:
    out = C.create_string_buffer(WIRE_MAX)
    n = lib.rp_frame_encode(frame.kind, frame.seq, frame.payload, len(frame.payload), out, WIRE_MAX)
    assert n > 0
    return out.raw[:n]


def c_decode(lib, wire: bytes) -> tuple[list[Frame], int]:
    dec, f, got = CDecoder(), CFrame(), []
    for b in wire:
        if lib.rp_frame_feed(C.byref(dec), b, C.byref(f)):
            got.append(Frame(f.kind, f.seq, C.string_at(f.payload, f.length)))
    return got, dec.dropped


def _frames(n, seed):
    rng = random.Random(seed)
    return [Frame(rng.choice(list(Kind)), i % 256, rng.randbytes(rng.choice([0, 1, 253, 254, 255, 508, MAX_PAYLOAD])))
            for i in range(n)]


def test_crc_is_zlibs(lib):
    data = random.Random(0).randbytes(5000)
    assert lib.rp_crc32(0, data, len(data)) == zlib.crc32(data)
    assert lib.rp_crc32(lib.rp_crc32(0, data[:7], 7), data[7:], len(data) - 7) == zlib.crc32(data)


def test_frames_cross_both_ways(lib):
    frames = _frames(40, 1)
    got, dropped = c_decode(lib, b"".join(map(encode_frame, frames)))  # Python → C
    assert got == frames and dropped == 0
    dec = FrameDecoder()
    assert dec.feed(b"".join(c_encode(lib, f) for f in frames)) == frames and dec.dropped == 0  # C → Python


def test_c_encodes_byte_for_byte_as_python(lib):
    for f in _frames(30, 5):
        assert c_encode(lib, f) == encode_frame(f)


def test_damage_and_overlong_garbage_are_dropped(lib):
    frames = _frames(20, 2)
    wire = bytearray(b"noise" + b"\xff" * (2 * WIRE_MAX))  # longer than the decoder's buffer, then frames
    for i, f in enumerate(frames):
        w = bytearray(encode_frame(f))
        if i % 4 == 1:
            w[len(w) // 2] ^= 0x20 if w[len(w) // 2] != 0x20 else 0x21
        wire += w
    got, dropped = c_decode(lib, bytes(wire))
    assert got == [f for i, f in enumerate(frames) if i % 4 != 1]
    assert dropped == 1 + 5


def test_encode_refuses_too_much(lib):
    out = C.create_string_buffer(16)
    assert lib.rp_frame_encode(1, 0, b"x" * 100, 100, out, 16) == -1
    assert lib.rp_frame_encode(1, 0, b"", MAX_PAYLOAD + 1, out, 16) == -1


@pytest.mark.parametrize("extra", [1, 2])
def test_a_payload_over_the_announced_maximum_is_dropped_even_when_it_fits_the_buffer(lib, extra):
    body = bytes([Kind.IMAGE_CHUNK, 7]) + b"\x55" * (MAX_PAYLOAD + extra)
    wire = b"\0" + cobs.encode(body + struct.pack("<I", zlib.crc32(body))) + b"\0"
    assert len(wire) - 2 <= WIRE_MAX  # the decoder's buffer holds it: only the length check can refuse it
    got, dropped = c_decode(lib, wire)
    assert got == [] and dropped == 1
