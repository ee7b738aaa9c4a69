"""Frames of the serial protocol: COBS byte stuffing with a 0x00 delimiter, so a receiver resynchronises at the
next zero after any garbage, and a CRC-32 over header and payload, so a damaged frame is dropped, never used.

On the wire: 0x00 COBS(kind u8, seq u8, payload, crc32 u32 LE) 0x00; the payload's length is implied by the
framing, so a frame costs 9 bytes besides its payload (and one COBS byte per 254). The leading delimiter ends
whatever garbage came before, so line noise costs at most the noise, never the next frame. ``seq`` numbers frames
modulo 256 so a retransmitted frame is recognised; CRC-32 is zlib's (the firmware's fingerprints use the same one).
"""

from __future__ import annotations

import struct
import zlib
from dataclasses import dataclass, field
from enum import IntEnum

from cobs import cobs

from harness.errors import ProtocolError
from harness.protocol.spec import MESSAGES

HEADER = struct.Struct("<BB")
MAX_PAYLOAD = 4096
WIRE_OVERHEAD = 2 + 1 + HEADER.size + 4  # delimiters, a COBS code, the header, the CRC: bytes besides a payload
STRAY_TEXT = 200  # characters of stray text kept for messages


def _printable(data: bytes) -> str:
    """The runs of printable ASCII in ``data`` (at least 4 characters each), joined by spaces."""
    runs = bytes(b if 32 <= b < 127 else 0 for b in data).split(b"\0")
    return " ".join(r.decode().strip() for r in runs if len(r.strip()) >= 4)


# A frame's kind byte: every message of harness/protocol/spec.py (its sender and payload are there).
Kind = IntEnum("Kind", {m.name: m.code for m in MESSAGES})


@dataclass(frozen=True)
class Frame:
    kind: int
    seq: int
    payload: bytes = b""


def encode_frame(frame: Frame) -> bytes:
    if not 0 <= frame.seq < 256 or not 0 <= frame.kind < 256:
        raise ProtocolError(f"frame kind {frame.kind} / seq {frame.seq} outside 0..255")
    if len(frame.payload) > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {len(frame.payload)} bytes exceeds {MAX_PAYLOAD}")
    body = HEADER.pack(frame.kind, frame.seq) + frame.payload
    return b"\0" + cobs.encode(body + struct.pack("<I", zlib.crc32(body))) + b"\0"


def decode_frame(packet: bytes) -> Frame:
    """One packet (the bytes between two delimiters) → a frame; ProtocolError says what is wrong with it."""
    try:
        raw = cobs.decode(packet)
    except cobs.DecodeError as exc:
        raise ProtocolError(f"bad byte stuffing: {exc}") from exc
    if len(raw) < HEADER.size + 4:
        raise ProtocolError(f"frame of {len(raw)} bytes is shorter than its header and CRC")
    body, (crc,) = raw[:-4], struct.unpack("<I", raw[-4:])
    if zlib.crc32(body) != crc:
        raise ProtocolError(f"CRC mismatch (sent {crc:08x}, computed {zlib.crc32(body):08x})")
    kind, seq = HEADER.unpack_from(body)
    if len(body) - HEADER.size > MAX_PAYLOAD:
        raise ProtocolError(f"frame payload of {len(body) - HEADER.size} bytes exceeds {MAX_PAYLOAD}")
    return Frame(kind, seq, bytes(body[HEADER.size:]))


@dataclass
class FrameDecoder:
    """Feed it bytes as they arrive; it returns whole, intact frames and counts what it had to drop."""

    dropped: int = 0                 # packets thrown away (garbage, damage, oversize)
    last_error: str = ""
    _buf: bytearray = field(default_factory=bytearray)
    _text: bytearray = field(default_factory=bytearray)  # printable bytes of dropped packets (a board's own text)

    @property
    def stray_text(self) -> str:
        """The last printable text that arrived outside frames (a fault line, a boot message, a tool's output),
        including what waits for a delimiter now; for error messages."""
        tail = _printable(bytes(self._buf))
        return " ".join(t for t in (_printable(bytes(self._text)), tail) if t)[-STRAY_TEXT:]

    def _keep_text(self, packet: bytes) -> None:
        text = _printable(packet)
        if len(text) >= 4:
            self._text = (self._text + b" " + text.encode())[-STRAY_TEXT:]

    @property
    def partial(self) -> bool:
        """Whether bytes of an unfinished packet wait for their delimiter."""
        return bool(self._buf)

    def abandon(self) -> int:
        """Drops the unfinished packet (its closing delimiter was lost and the line went quiet); returns 1 if there
        was one."""
        if not self._buf:
            return 0
        self._keep_text(bytes(self._buf))
        self._buf = bytearray()
        self.dropped += 1
        self.last_error = "a frame without its closing delimiter, then silence"
        return 1

    def feed(self, data: bytes) -> list[Frame]:
        self._buf += data
        frames = []
        while (end := self._buf.find(0)) >= 0:
            packet, self._buf = bytes(self._buf[:end]), self._buf[end + 1:]
            if not packet:
                continue  # back-to-back delimiters: a resync marker, not an error
            try:
                frames.append(decode_frame(packet))
            except ProtocolError as exc:
                self.dropped += 1
                self.last_error = str(exc)
                self._keep_text(packet)
        if len(self._buf) > 2 * (MAX_PAYLOAD + 16):  # no delimiter for too long: garbage, keep the tail only
            self._keep_text(bytes(self._buf[:-(MAX_PAYLOAD + 16)]))
            self._buf = self._buf[-(MAX_PAYLOAD + 16):]
            self.dropped += 1
            self.last_error = "no frame delimiter within the longest frame"
        return frames
