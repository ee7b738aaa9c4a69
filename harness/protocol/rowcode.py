"""The image's lossless row code (docs/protocol.md, "Coded upload"): LOCO-I's median predictor and Golomb–Rice codes
whose parameter comes from the neighbours' residuals, one byte-aligned record per row, so the device decodes row by
row in bounded memory (firmware/protocol/rp_rowcode_decode_row.c mirrors ``decode``).

Per row: a u16 header (bit 15: the row is raw; bits 0–14: the body's bytes), then the body. A raw body is the W
pixels. A coded body is, per pixel, the Rice code of ``m``, the zigzag of the prediction error modulo 256, MSB first:
``q = m >> k`` ones, a zero, ``k`` low bits; ``q ≥ ESCAPE``: ESCAPE ones, then ``m`` in 8 bits; zero bits pad the row
to a byte. ``k`` is the least k ≤ 7 with ``K_SCALE << k ≥ s``, ``s`` the sum of the ``m`` of the left, upper-left,
upper and upper-right neighbours (0 outside the image). A row whose code would take W bytes or more goes raw.

The encoder is NumPy throughout (every prediction and context uses pixels of the original image, which the decoder
has by then); ``decode`` is the plain loop the C mirrors.
"""

from __future__ import annotations

import bisect

import numpy as np

from harness.errors import ProtocolError

ESCAPE = 16      # a quotient this large sends m in 8 bits instead: a pixel never costs more than 24 bits
K_SCALE = 6      # k = least k with K_SCALE << k >= s (tuned on the fixtures: bench/row_codecs.py)
MAX_K = 7
RAW_FLAG = 0x8000
HEADER_BYTES = 2
RING_MIN = 2048  # the device's reorder ring for coded bytes, at least (upload_ring)


def upload_ring(width: int) -> int:
    """Bytes of the device's reorder ring for coded chunks: a power of two holding two whole rows and RING_MIN."""
    need = max(RING_MIN, 2 * (width + HEADER_BYTES))
    return 1 << (need - 1).bit_length()


def upload_scratch(width: int) -> int:
    """The device's upload scratch in the arena: the reorder ring, its presence bitmap and one row of residuals."""
    ring = upload_ring(width)
    return ring + ring // 8 + (width + 3) // 4 * 4


def predict(image: np.ndarray) -> np.ndarray:
    """LOCO-I's median edge detector from the left (a), upper (b) and upper-left (c) pixels; above row 0 they are 0,
    left of column 0 the upper pixel stands for a and c."""
    x = image.astype(np.int32)
    a, b, c = np.zeros_like(x), np.zeros_like(x), np.zeros_like(x)
    a[:, 1:], b[1:, :], c[1:, 1:] = x[:, :-1], x[:-1, :], x[:-1, :-1]
    a[:, 0], c[:, 0] = b[:, 0], b[:, 0]
    hi, lo = np.maximum(a, b), np.minimum(a, b)
    return np.where(c >= hi, lo, np.where(c <= lo, hi, a + b - c))


def residuals(image: np.ndarray) -> np.ndarray:
    """m: the prediction error modulo 256 in [-128, 127], zigzagged to 0..255."""
    e = (image.astype(np.int32) - predict(image) + 128) % 256 - 128
    return np.where(e >= 0, 2 * e, -2 * e - 1)


def rice_k(s: np.ndarray | int) -> np.ndarray:
    s = np.asarray(s)
    k = np.zeros(s.shape, np.int32)
    for j in range(MAX_K):
        k += (K_SCALE << j) < s
    return k


def contexts(m: np.ndarray) -> np.ndarray:
    """s per pixel: the m of the left, upper-left, upper and upper-right neighbours, summed."""
    s = np.zeros(m.shape, np.int32)
    s[:, 1:] += m[:, :-1]
    s[1:, :] += m[:-1, :]
    s[1:, 1:] += m[:-1, :-1]
    s[1:, :-1] += m[:-1, 1:]
    return s


def encode(image: np.ndarray) -> bytes:
    """The coded stream of an 8-bit grey image (H×W)."""
    image = np.ascontiguousarray(image, np.uint8)
    if image.ndim != 2 or not image.size:
        raise ProtocolError(f"row code: expected a non-empty H×W grey image, got shape {image.shape}")
    h, w = image.shape
    m = residuals(image).astype(np.int64)
    k = rice_k(contexts(m)).astype(np.int64)
    q = m >> k
    escaped = q >= ESCAPE
    length = np.where(escaped, ESCAPE + 8, q + 1 + k)
    ones = np.where(escaped, ESCAPE, q)
    tail = np.where(escaped, m, m & ((1 << k) - 1))
    code = (((1 << ones) - 1) << (length - ones)) | tail          # ones, (a zero), the tail: `length` bits
    row_bits = length.sum(axis=1)
    row_bytes = (row_bits + 7) // 8
    # every row's codes as one bit string, each row padded to a byte: bit j of code i sits at start_i + j
    pad = row_bytes * 8 - row_bits
    lengths = np.concatenate([length, pad[:, None]], axis=1).ravel()
    codes = np.concatenate([code, np.zeros((h, 1), np.int64)], axis=1).ravel()
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    # each code, at most 24 bits, lands in the 4 bytes from its start byte; codes never share a bit, so summing
    # their bytes per position is OR-ing them
    word = codes << (32 - lengths - (starts & 7))
    index = (starts >> 3)[:, None] + np.arange(4)
    parts = (word[:, None] >> (24 - 8 * np.arange(4))) & 255
    total = int(row_bytes.sum())
    packed = np.bincount(index.ravel(), parts.ravel(), total + 4)[:total].astype(np.uint8).tobytes()
    out, at = bytearray(), 0
    for y in range(h):
        n = int(row_bytes[y])
        if n >= w:
            out += (RAW_FLAG | w).to_bytes(HEADER_BYTES, "little") + image[y].tobytes()
        else:
            out += n.to_bytes(HEADER_BYTES, "little") + packed[at:at + n]
        at += n
    return bytes(out)


def row_starts(stream: bytes, height: int) -> list[int]:
    """The offset of every row's header in a coded stream (and its length at the end)."""
    starts, at = [], 0
    for _ in range(height):
        starts.append(at)
        at += HEADER_BYTES + (int.from_bytes(stream[at:at + HEADER_BYTES], "little") & ~RAW_FLAG)
    return starts + [at]


class _Bits:
    """A row body's bits, MSB first; reading past its end is a ProtocolError naming the row."""

    def __init__(self, body: bytes, row: int):
        self.body, self.row, self.pos = body, row, 0

    def read(self, count: int) -> int:
        if self.pos + count > 8 * len(self.body):
            raise ProtocolError(f"row code: row {self.row}'s code runs past its {len(self.body)} bytes")
        value = 0
        for _ in range(count):
            value = value << 1 | (self.body[self.pos >> 3] >> (7 - (self.pos & 7))) & 1
            self.pos += 1
        return value


def _decode_row(body: bytes, raw: bool, y: int, above: list[int], m_row: list[int], out: np.ndarray) -> None:
    """One row into ``out``; ``m_row`` holds the row above's residuals and gets this row's."""
    width, bits = len(out), _Bits(body, y)
    nw = left_m = 0
    for x in range(width):
        b = above[x]
        a = int(out[x - 1]) if x else b
        c = above[x - 1] if x else b
        pred = min(a, b) if c >= max(a, b) else max(a, b) if c <= min(a, b) else a + b - c
        up = m_row[x]
        if raw:
            v = body[x]
            e = (v - pred + 128) % 256 - 128
            m = 2 * e if e >= 0 else -2 * e - 1
        else:
            k = int(rice_k(left_m + nw + up + (m_row[x + 1] if x + 1 < width else 0)))
            q = 0
            while q < ESCAPE and bits.read(1):
                q += 1
            m = bits.read(8) if q == ESCAPE else q << k | bits.read(k)
            v = (pred + (m >> 1 if m % 2 == 0 else -(m + 1) // 2)) & 255
        out[x] = v
        nw, m_row[x], left_m = up, m, m
    if not raw and (bits.pos + 7) // 8 != len(body):
        raise ProtocolError(f"row code: row {y} used {(bits.pos + 7) // 8} of its {len(body)} bytes")


def reach(stream: bytes, height: int, ring: int):
    """The window's limit for a coded upload (harness/protocol/window.py): with ``lowest`` the lowest byte not yet
    acknowledged, no chunk may end past the start of the row holding it plus the device's ``ring`` (it keeps that
    many bytes from the start of the row it decodes next)."""
    starts = row_starts(stream, height)
    return lambda lowest: starts[bisect.bisect_right(starts, lowest) - 1] + ring


def decode(stream: bytes, height: int, width: int) -> np.ndarray:
    """The image back from its coded stream, pixel by pixel as the device does; a malformed stream is a
    ProtocolError naming the row."""
    image = np.zeros((height, width), np.uint8)
    m_row = [0] * width        # the row above's residuals (0 above row 0)
    at = 0
    for y in range(height):
        if at + HEADER_BYTES > len(stream):
            raise ProtocolError(f"row code: the stream ends before row {y}'s header")
        head = int.from_bytes(stream[at:at + HEADER_BYTES], "little")
        n, raw = head & ~RAW_FLAG, bool(head & RAW_FLAG)
        body = stream[at + HEADER_BYTES:at + HEADER_BYTES + n]
        if len(body) != n or (raw and n != width):
            raise ProtocolError(f"row code: row {y} claims {n} bytes{' raw' if raw else ''}; "
                                f"{len(body)} are left of a width-{width} image")
        above = [int(v) for v in image[y - 1]] if y else [0] * width
        _decode_row(body, raw, y, above, m_row, image[y])
        at += HEADER_BYTES + n
    if at != len(stream):
        raise ProtocolError(f"row code: {len(stream) - at} bytes follow the last row")
    return image
