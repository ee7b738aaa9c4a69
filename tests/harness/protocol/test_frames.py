"""Framing: every byte value survives, damage is detected and dropped, the decoder resynchronises."""

import random
import struct
import zlib

import pytest
from cobs.cobs import decode as cobs_decode
from cobs.cobs import encode as cobs_encode

from harness.errors import ProtocolError
from harness.protocol.frames import MAX_PAYLOAD, Frame, FrameDecoder, Kind, decode_frame, encode_frame


def _frames(n, seed=1):
    rng = random.Random(seed)
    return [Frame(rng.choice(list(Kind)), i % 256, rng.randbytes(rng.choice([0, 1, 254, 255, 256, 1000, MAX_PAYLOAD])))
            for i in range(n)]


def test_round_trip_every_byte_value():
    frame = Frame(Kind.IMAGE_CHUNK, 7, bytes(range(256)) * 4 + b"\0\0\0")
    wire = encode_frame(frame)
    assert wire.count(0) == 2 and wire[0] == wire[-1] == 0  # the only zeros are the delimiters
    assert decode_frame(wire[1:-1]) == frame


def test_stream_split_anywhere_decodes_in_order():
    frames = _frames(60)
    wire = b"".join(map(encode_frame, frames))
    rng = random.Random(2)
    dec, got, i = FrameDecoder(), [], 0
    while i < len(wire):
        step = rng.randint(1, 700)
        got += dec.feed(wire[i:i + step])
        i += step
    assert got == frames and dec.dropped == 0


def test_damage_is_dropped_and_the_rest_survives():
    frames = _frames(40, seed=3)
    packets = [bytearray(encode_frame(f)) for f in frames]
    rng = random.Random(4)
    damaged = set(rng.sample(range(40), 10))
    for i in damaged:
        p = packets[i]
        if i % 2:  # flip a bit inside the frame
            j = rng.randrange(len(p) - 1)
            p[j] ^= 1 << rng.randrange(8)
            if p[j] == 0:
                p[j] = 0x55
        else:      # drop a byte
            del p[rng.randrange(len(p) - 1)]
    wire = b"\x13garbage\xff" + b"".join(bytes(p) for p in packets)
    dec = FrameDecoder()
    got = dec.feed(wire)
    assert got == [f for i, f in enumerate(frames) if i not in damaged]
    assert dec.dropped == len(damaged) + 1  # plus the leading garbage
    assert dec.last_error


@pytest.mark.parametrize("packet, message", [
    (b"\x05abcd", "shorter"),
    (b"\x01", "shorter"),
])
def test_bad_packets_say_why(packet, message):
    with pytest.raises(ProtocolError, match=message):
        decode_frame(packet)


def test_the_header_is_kind_and_seq_only():
    # the length is implied by the framing: a frame costs 2 header + 4 CRC + 1 COBS code + 2 delimiters
    assert len(encode_frame(Frame(Kind.ACK, 3, b""))) == 9
    assert len(encode_frame(Frame(Kind.IMAGE_CHUNK, 3, b"\x11" * 30))) == 39
    body = bytes([Kind.ACK, 3]) + b"abc"
    assert decode_frame(encode_frame(Frame(Kind.ACK, 3, b"abc"))[1:-1]) == Frame(Kind.ACK, 3, b"abc")
    assert cobs_decode(encode_frame(Frame(Kind.ACK, 3, b"abc"))[1:-1])[:-4] == body


def test_a_payload_over_the_maximum_is_refused_on_decode():
    body = bytes([Kind.RESULT, 0]) + bytes(MAX_PAYLOAD + 1)
    packet = cobs_encode(body + struct.pack("<I", zlib.crc32(body)))
    with pytest.raises(ProtocolError, match="exceeds"):
        decode_frame(packet)


def test_oversize_payload_is_refused():
    with pytest.raises(ProtocolError, match="exceeds"):
        encode_frame(Frame(Kind.RESULT, 0, bytes(MAX_PAYLOAD + 1)))
