"""The layouts of the image upload's messages (docs/protocol.md), in one place for the host and its test doubles;
firmware/app/device.c mirrors them, with the constants of harness/protocol/spec.py.

Offsets are u24 little-endian (an input image of up to 16 MiB): at 1 % byte errors the best chunk is about 30
bytes, so every byte of a chunk's header costs about 2 % of the throughput, and every byte of an ACK is sent for
each chunk.
"""

from __future__ import annotations

from harness.errors import ProtocolError
from harness.protocol.spec import constant

OFFSET_BYTES = constant("OFFSET_BYTES")
MAX_OFFSET = 1 << (8 * OFFSET_BYTES)


def _u24(value: int) -> bytes:
    if not 0 <= value < MAX_OFFSET:
        raise ProtocolError(f"upload offset {value} does not fit {OFFSET_BYTES} bytes (uploads up to {MAX_OFFSET} B)")
    return value.to_bytes(OFFSET_BYTES, "little")


def pack_start(codec: int, stream_bytes: int) -> bytes:
    """IMAGE_START: codec u8, the stream's bytes u24."""
    return bytes([codec]) + _u24(stream_bytes)


def pack_chunk(offset: int, data: bytes) -> bytes:
    """IMAGE_CHUNK: offset u24, the bytes."""
    return _u24(offset) + data


def unpack_chunk(payload: bytes) -> tuple[int, bytes]:
    return int.from_bytes(payload[:OFFSET_BYTES], "little"), bytes(payload[OFFSET_BYTES:])


def pack_ack(offsets: list[int] | tuple[int, ...]) -> bytes:
    """An IMAGE_CHUNK's ACK: the offsets (u24) of the chunk and of up to two chunks accepted just before it."""
    return b"".join(map(_u24, offsets))


def unpack_ack(payload: bytes) -> tuple[int, ...] | None:
    """The offsets of an ACK, newest first; None if the payload is not a list of offsets."""
    if not payload or len(payload) % OFFSET_BYTES:
        return None
    return tuple(int.from_bytes(payload[i:i + OFFSET_BYTES], "little") for i in range(0, len(payload), OFFSET_BYTES))
