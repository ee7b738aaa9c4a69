"""Reading something long from the device (its info text, the result record, a layer's output) in pieces sized for
the line, several requests in flight (docs/protocol.md, "Answers in pieces").

Each request asks for one range under a fresh seq; the device answers in order, so an answer to a later request
means every earlier one still unanswered was lost, and its range is asked for again at once (cut at the size the
line bears now); so is a range whose timer runs out. A late answer to a range already asked for again is ignored.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from harness.errors import ProtocolError
from harness.protocol.frames import Frame, Kind
from harness.protocol.transport import FRAME_OVERHEAD, Sizer, Transport

IN_FLIGHT = 8  # requests: a few dozen bytes each towards the device, well inside its receive ring


def fetch(transport: Transport, sizer: Sizer, total: int, have: bytes, request: Callable[[int, int], tuple],
          answer: Kind, parse: Callable[[Frame], tuple[int, bytes]], prefix: int, name: str) -> bytes:
    """``total`` bytes of which the first ``have`` already arrived. ``request(at, n)`` → (kind, payload) asking for
    bytes [at, at + n); ``parse(frame)`` → (at, data) of an ``answer`` frame (``prefix`` bytes precede the data)."""
    if len(have) > total:
        raise ProtocolError(f"{name}: {len(have)} bytes arrived of a {total}-byte object")
    out = bytearray(total)
    out[:len(have)] = have
    todo = deque([(len(have), total)] if len(have) < total else [])  # ranges [start, end) still to ask for
    pending: dict[int, tuple[int, int, float, int]] = {}              # seq → (at, n, sent at, send order)
    done, order = len(have), 0
    last_progress = time.monotonic()

    def again(seq: int, known: bool) -> None:
        at, n, _, _ = pending.pop(seq)
        todo.appendleft((at, at + n))
        transport.stats.retransmits += 1
        if known:
            sizer.outcome(n + prefix + FRAME_OVERHEAD, lost=True)

    while done < total:
        while todo and len(pending) < IN_FLIGHT:
            start, end = todo.popleft()
            n = min(sizer.size, end - start)
            if start + n < end:
                todo.appendleft((start + n, end))
            seq, order = transport.next_seq(), order + 1
            kind, payload = request(start, n)
            transport.write(Frame(kind, seq, payload))
            pending[seq] = (start, n, time.monotonic(), order)
        oldest = min(p[2] for p in pending.values())
        frames, _ = transport.read(min(oldest + transport.rtt.rto, last_progress + transport.budget))
        now = time.monotonic()
        for f in frames:
            if f.kind == answer and f.seq in pending:
                at, n, sent, k = pending.pop(f.seq)
                got_at, data = parse(f)
                if (got_at, len(data)) != (at, n):
                    raise ProtocolError(f"{name}: asked bytes {at}+{n}, got {got_at}+{len(data)}")
                out[at:at + n] = data
                done, last_progress = done + n, now
                transport.rtt.sample(now - sent)
                sizer.outcome(n + prefix + FRAME_OVERHEAD, lost=False)
                for s in [s for s, p in pending.items() if p[3] < k]:  # answered in order: those were lost
                    again(s, known=True)
            elif f.kind == Kind.ERROR and f.seq in pending:
                raise ProtocolError(f"the firmware refused a read of {name}: {f.payload.decode(errors='replace')}")
            elif f.kind == Kind.NAK:
                transport.stats.naks += 1
        if now - last_progress > transport.budget:
            raise transport.gave_up(f"the reads of {name}", last_progress)
        expired = [s for s, p in pending.items() if now >= p[2] + transport.rtt.rto]
        if expired:
            transport.stats.timeouts += 1
            transport.rtt.timed_out()
            for s in sorted(expired, key=lambda s: pending[s][0], reverse=True):
                again(s, known=True)
    return bytes(out)
