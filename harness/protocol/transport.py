"""How the host gets frames through a bad line (docs/protocol.md, "Errors and recovery"): timeouts from the
measured round-trip time with exponential back-off, a time budget instead of a retry count, frame sizes that follow
the measured error rate, and a sliding window with selective retransmission for the image upload.

``Rtt`` and ``Sizer`` are plain estimators; ``Transport`` owns the link and the frame decoder and knows nothing of
the requests' meaning beyond kinds and seqs (harness/protocol/session.py does).
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import serial

from harness.errors import LinkError, ProtocolError, TargetError, TargetTimeout
from harness.protocol.frames import WIRE_OVERHEAD, Frame, FrameDecoder, Kind, encode_frame
from harness.protocol.messages import OFFSET_BYTES

FRAME_OVERHEAD = WIRE_OVERHEAD + OFFSET_BYTES  # a frame's bytes besides its payload, and a chunk's offset


@dataclass
class LinkStats:
    """What the link cost: counted so tests, reports and error messages can say what happened."""

    frames_sent: int = 0
    retransmits: int = 0
    naks: int = 0              # the device could not decode something (it NAKs once per intact frame at most)
    damaged: int = 0           # packets the host could not decode
    timeouts: int = 0          # retransmission timers that ran out
    bytes_sent: int = 0
    bytes_received: int = 0

    def summary(self) -> str:
        return (f"{self.damaged} damaged frames received, {self.naks} NAKs, {self.retransmits} retransmissions, "
                f"{self.timeouts} timeouts; {self.bytes_sent:,} B sent, {self.bytes_received:,} B received")


@dataclass
class Rtt:
    """RFC 6298's estimator: rto = srtt + 4 rttvar, within [lo, hi], doubled per consecutive timeout (twice at
    most)."""

    initial: float = 0.5
    lo: float = 0.05
    hi: float = 2.0
    srtt: float | None = None
    rttvar: float = 0.0
    backoff: int = 0

    def sample(self, seconds: float) -> None:
        if self.srtt is None:
            self.srtt, self.rttvar = seconds, seconds / 2
        else:
            self.rttvar = 0.75 * self.rttvar + 0.25 * abs(self.srtt - seconds)
            self.srtt = 0.875 * self.srtt + 0.125 * seconds
        self.backoff = 0

    def timed_out(self) -> None:
        # A serial line has no congestion to back off from, only noise and stalls: a few doublings ride out a stall
        # without piling up resends, and more would leave a noisy line idle for most of the time.
        self.backoff = min(self.backoff + 1, 2)

    @property
    def rto(self) -> float:
        base = self.initial if self.srtt is None else self.srtt + 4 * self.rttvar
        return min(max(base, self.lo) * 2 ** self.backoff, self.hi)


_RATE_GRID = np.geomspace(1e-7, 0.5, 162)
_LOG1M_GRID = np.log1p(-_RATE_GRID)
RUN_TO_HALVE = 3  # losses in a row after which the Sizer halves the size at once


@dataclass
class Sizer:
    """The payload size that moves the most data per byte on the wire, from the recent frames' fates: the per-byte
    error rate p is the maximum-likelihood fit to which frames (of which wire sizes) got through, and the size
    maximises n / (n + overhead) * (1 - p) ** (n + overhead)."""

    lo: int
    hi: int
    overhead: int = FRAME_OVERHEAD
    window: int = 48
    _fates: deque = field(default_factory=lambda: deque(maxlen=48))
    _size: int = 0
    _since: int = 0
    _run: int = 0  # losses in a row

    def outcome(self, wire_bytes: int, lost: bool) -> None:
        self._fates.append((wire_bytes, lost))
        self._since += 1
        self._run = self._run + 1 if lost else 0
        if self._since >= 8 or (lost and self.size == self.hi):  # the first loss on a clean line is news at once
            self._since, self._size = 0, self._best()
        if self._run >= RUN_TO_HALVE:
            # losses in a row: the line got worse than the history says (a clean past would outvote it for a whole
            # window, each loss perhaps a timeout), so halve now; the fit takes over again as new fates come in
            self._size = max(self.lo, min(self._best(), self.size // 2))

    def error_rate(self) -> float:
        if not self._fates:
            return 0.0
        wire, lost = (np.array(x, float) for x in zip(*self._fates))
        if not lost.any():
            return 0.0
        # the log-likelihood on a grid of rates 10 % apart (the best size moves by half that): one array operation,
        # cheap enough to run after every few frames
        survive = np.exp(np.outer(_LOG1M_GRID, wire))  # (1 - p) ** wire for every grid p and every frame
        loglik = (np.log(np.maximum(1 - survive, 1e-300)) * lost + np.log(survive) * (1 - lost)).sum(axis=1)
        return float(_RATE_GRID[np.argmax(loglik)])

    def _best(self) -> int:
        p = self.error_rate()
        if p <= 0:
            return self.hi
        n = np.arange(self.lo, self.hi + 1, dtype=float)
        return int(n[np.argmax(n / (n + self.overhead) * (1 - p) ** (n + self.overhead))])

    @property
    def size(self) -> int:
        return self._size or self.hi


PARTIAL_QUIET = 0.1  # s without a byte after which an unfinished packet is taken as damaged


class Transport:
    """Frames over one pyserial link, with the retransmission policy of the module docstring. ``on_frame`` sees
    every intact frame first (a FAULT or a boot banner ends any request, whatever it waits for)."""

    def __init__(self, link: serial.SerialBase, budget: float = 15.0, initial_rto: float = 0.5,
                 on_frame: Callable[[Frame], None] = lambda f: None):
        self.link, self.budget, self.on_frame = link, budget, on_frame
        self.rtt = Rtt(initial=initial_rto)          # requests and their answers
        # image chunks (harness/protocol/window.py): fast retransmit finds most losses, so the timer only covers a
        # window's tail, and a floor well above a scheduler hiccup spares a clean link spurious resends
        self.upload_rtt = Rtt(initial=initial_rto, lo=0.3)
        self.stats = LinkStats()
        self.decoder = FrameDecoder()
        self.pending: list[Frame] = []
        self.last_rx = 0.0  # when bytes last arrived
        self._seq = 0

    def next_seq(self) -> int:
        seq, self._seq = self._seq, (self._seq + 1) % 256
        return seq

    def write(self, frame: Frame) -> int:
        data = encode_frame(frame)
        try:
            self.link.write(data)
        except serial.SerialException as exc:
            raise TargetError(f"the serial link closed while sending: {exc}") from exc
        self.stats.bytes_sent += len(data)
        self.stats.frames_sent += 1
        return len(data)

    def read(self, deadline: float) -> tuple[list[Frame], int]:
        """Frames that arrived before ``deadline`` (returns at the first arrival) and how many packets were
        damaged."""
        if self.pending:
            frames, self.pending = self.pending, []
            return frames, 0
        try:
            self.link.timeout = min(max(deadline - time.monotonic(), 0.0), 0.25)
            data = self.link.read(1)
            if data:
                self.link.timeout = 0
                data += self.link.read(65536)
        except serial.SerialException as exc:
            raise TargetError(f"the serial link closed (the firmware or emulator stopped?): {exc}") from exc
        if not data:
            # a packet that stopped short and a quiet line: its closing delimiter was lost, so it is damaged now
            # rather than when the next frame comes (an ACKed RUN's answer would otherwise wait for a slow poll)
            if self.decoder.partial and time.monotonic() - self.last_rx > PARTIAL_QUIET:
                damaged = self.decoder.abandon()
                self.stats.damaged += damaged
                return [], damaged
            return [], 0
        self.last_rx = time.monotonic()
        self.stats.bytes_received += len(data)
        before = self.decoder.dropped
        frames = self.decoder.feed(data)
        damaged = self.decoder.dropped - before
        self.stats.damaged += damaged
        for f in frames:
            self.on_frame(f)
        return frames, damaged

    def flush(self) -> None:
        self.link.reset_input_buffer()
        self.pending.clear()
        self.decoder = FrameDecoder()

    def gave_up(self, what: str, since: float) -> TargetError:
        """The error for a request that made no progress within the budget: a silent device (nothing arrived in the
        last half of the wait, or the last 2 s: reset it) or a noisy line (say what arrived; a reset would not
        help)."""
        now = time.monotonic()
        waited = now - since
        text = self.decoder.stray_text
        printed = f"; the device printed: {text!r}" if text else ""
        if now - max(self.last_rx, since) >= min(waited / 2, 2.0):
            return TargetTimeout(f"no answer to {what} in {waited:.1f} s: the device sent nothing "
                                 f"({self.stats.retransmits} retransmissions){printed}")
        return LinkError(f"no intact answer to {what} in {waited:.1f} s although the device is sending: the line "
                         f"is too noisy ({self.stats.summary()}){printed}")

    def exchange(self, kind: Kind, payload: bytes, want: set[tuple[int, int]], seq: int | None = None, *,
                 patience: float = 0.0, send_first: bool = True, budget: float | None = None,
                 answer_bytes: int = 0, sizer: Sizer | None = None) -> Frame:
        """Send a request and return the first answer in ``want`` ((kind, seq) pairs); stale frames are ignored,
        an ERROR for this seq raises. Resent when the retransmission timer runs out (back-off doubling), on a NAK
        that shows the device did not get it, and, once the device has ACKed a long request (``patience``: RUN
        computing), at a slow poll or when a damaged frame suggests the answer was hit. Gives up after ``budget``
        seconds without the answer (plus ``patience`` once ACKed). ``sizer`` learns the answer's fate
        (``answer_bytes`` long on the wire)."""
        seq = self.next_seq() if seq is None else seq
        frame = Frame(int(kind), seq, payload)
        budget = self.budget if budget is None else budget
        start = time.monotonic()
        end = start + budget
        sends, acked, sent_at = 0, False, start
        next_send = start if send_first else start + self.rtt.rto
        while True:
            now = time.monotonic()
            if now >= end:
                raise self.gave_up(kind.name, start)
            if now >= next_send:
                if sends and not acked:
                    self.stats.timeouts += 1
                    self.rtt.timed_out()
                    if sizer:
                        sizer.outcome(answer_bytes, lost=True)
                self.write(frame)
                self.stats.retransmits += sends > 0
                sends, sent_at = sends + 1, now
                next_send = now + (min(max(1.0, patience / 8), 8.0) if acked else self.rtt.rto)
            frames, damaged = self.read(min(next_send, end))
            now = time.monotonic()
            # A damaged frame or a NAK: the request or its answer was probably hit. Resend once the answer to the
            # last send would have arrived anyway; while the device computes (ACKed RUN) it sends nothing else, so
            # a damaged frame is its answer, and the resend goes at once.
            soon = now if acked else max(now, sent_at + 0.5 * (self.rtt.srtt or 0.0))
            if damaged:
                next_send = min(next_send, soon)
            for i, f in enumerate(frames):
                if (f.kind, f.seq) in want:
                    self.pending = frames[i + 1:]
                    if sends == 1 and not acked:
                        self.rtt.sample(now - sent_at)  # Karn: only an answer to a request sent once
                    if sizer:
                        sizer.outcome(answer_bytes, lost=False)
                    return f
                if f.kind == Kind.NAK:  # its seq is the device's last intact frame's: this request's, or not yet
                    self.stats.naks += 1
                    if not acked:
                        next_send = min(next_send, soon)
                elif f.seq == seq and f.kind == Kind.ERROR:
                    raise ProtocolError(f"the firmware refused {kind.name}: {f.payload.decode(errors='replace')}")
                elif f.seq == seq and f.kind == Kind.ACK and patience and not acked:
                    acked, end = True, now + patience + budget
                    next_send = now + min(max(1.0, patience / 8), 8.0)
