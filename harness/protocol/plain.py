"""The device firmware's plain UART transport (firmware/app/device.c): banner, image in acknowledged chunks,
text report back. Chunks are at most half the device's receive ring and one is in flight at a time, so the ring
cannot overflow at any baud rate. The framed protocol (CRC, sequence numbers, retransmission) supersedes it."""

from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np

from harness.errors import ProtocolError
from harness.protocol.report import SelftestReport, parse_report

ACK = b"\x06"
_BANNER = re.compile(r"^rp-device 1 model (\S+) rx (\d+) chunk (\d+)$")


@dataclass(frozen=True)
class Banner:
    model_id: str
    rx_ring: int
    chunk: int


def read_banner(link, timeout: float = 10.0) -> Banner:
    """The first line the device firmware sends after reset."""
    line = link.read_line(timeout)
    m = _BANNER.match(line.strip())
    if m is None:
        raise ProtocolError(f"expected the device banner 'rp-device 1 model …', got {line[:120]!r}")
    return Banner(m[1], int(m[2]), int(m[3]))


def run_image(link, banner: Banner, image: np.ndarray, timeout: float = 600.0, progress=None) -> SelftestReport:
    """Send one image, wait for the report of its inference."""
    data = np.ascontiguousarray(image, np.uint8).tobytes()
    for i in range(0, len(data), banner.chunk):
        link.send(data[i:i + banner.chunk])
        ack = link.read_exact(1)
        if ack != ACK:
            raise ProtocolError(f"expected ACK after chunk {i // banner.chunk}, got {ack!r}")
        if progress:
            progress(min(i + banner.chunk, len(data)), len(data))
    lines = []
    while not lines or not lines[-1].startswith("total ticks"):
        lines.append(link.read_line(timeout))
    return parse_report("\n".join(lines))
