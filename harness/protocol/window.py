"""The image upload as a sliding window with selective retransmission (docs/protocol.md, "Image upload").

Chunks are ranges of the image, each sent as one IMAGE_CHUNK frame under a fresh seq; its offset names it. A range
resent on a line that got worse is cut smaller (never larger), so a late ACK naming an offset always covers the
range now starting there. Each ACK names the chunk it answers and the (up to two) chunks the
device accepted just before, so a lost ACK rarely costs a retransmission. The device handles frames in order: an
ACK for a chunk means every chunk sent before it that is still unacknowledged was lost, and is resent at once (fast
retransmit); so is the chunk sent right after the one a NAK names as the device's last intact frame. The oldest
chunk is also resent when the retransmission timer runs out (then the timer backs off); in the tail, when nothing new
is left to send, every unanswered chunk is resent after two round trips, without back-off. New
chunks take the size the ``Sizer`` finds best for the line's measured error rate. The bytes in flight never exceed
the device's receive ring, so nothing overflows it even while it is busy.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from harness.errors import ProtocolError
from harness.protocol.frames import Frame, Kind
from harness.protocol.messages import pack_chunk, unpack_ack
from harness.protocol.transport import FRAME_OVERHEAD, Sizer, Transport

MAX_IN_FLIGHT = 100  # frames: well inside the 256 seqs, so a late ACK can never be taken for a newer chunk's


@dataclass
class _Chunk:
    offset: int
    length: int
    wire: int = 0        # bytes on the wire of its last send
    sent_at: float = 0.0
    order: int = 0       # when it was last sent, in send order
    sends: int = 0


def upload(transport: Transport, data: bytes, max_chunk: int, ring_bytes: int, sizer: Sizer,
           progress: Callable[[int, int], None] | None = None, reach: Callable[[int], int] | None = None) -> None:
    """Deliver the upload's stream ``data``; returns when every byte is acknowledged. ``reach(lowest)``, if given,
    is the end offset no chunk may pass while ``lowest`` is the lowest byte not yet acknowledged (a coded upload:
    the device's reorder ring)."""
    window = max(ring_bytes, max_chunk + FRAME_OVERHEAD + 8)
    todo: list[_Chunk] = []                 # lost chunks waiting to be resent, oldest offset first
    flying: dict[int, _Chunk] = {}          # seq → chunk
    sent_order: dict[int, int] = {}         # seq → send order of the latest frame sent under it
    by_offset: dict[int, _Chunk] = {}       # every chunk not yet delivered
    next_offset, delivered, order = 0, 0, 0
    last_progress = time.monotonic()
    rtt = transport.upload_rtt  # its own: a chunk's round trip includes the window queued before it

    def lose(chunk: _Chunk, known: bool = True) -> None:
        if known:  # a tail probe resends what may well have arrived: no news for the sizer
            sizer.outcome(chunk.wire, lost=True)
        todo.append(chunk)
        todo.sort(key=lambda c: c.offset)

    while delivered < len(data):
        # fill the window: resends first, then new chunks
        in_flight = sum(c.wire for c in flying.values())
        while len(flying) < MAX_IN_FLIGHT and (todo or next_offset < len(data)):
            if todo:
                chunk = todo[0]
                size = min(sizer.size, max_chunk)
                if chunk.length > size:  # resent smaller: the line is worse than when it was cut
                    rest = _Chunk(chunk.offset + size, chunk.length - size)
                    chunk.length = size
                    by_offset[rest.offset] = rest
                    todo.insert(1, rest)
            else:
                end = len(data) if reach is None else min(len(data), reach(min(by_offset, default=next_offset)))
                if end <= next_offset:
                    break  # the device's reorder ring is full up to the lowest byte still missing
                chunk = _Chunk(next_offset, min(sizer.size, max_chunk, end - next_offset))
            if flying and in_flight + chunk.length + FRAME_OVERHEAD > window:
                break
            if todo:
                todo.pop(0)
            else:
                next_offset += chunk.length
                by_offset[chunk.offset] = chunk
            seq = transport.next_seq()
            payload = pack_chunk(chunk.offset, data[chunk.offset:chunk.offset + chunk.length])
            order += 1
            chunk.wire, chunk.sent_at, chunk.order = transport.write(Frame(Kind.IMAGE_CHUNK, seq, payload)), \
                time.monotonic(), order
            transport.stats.retransmits += chunk.sends > 0
            chunk.sends += 1
            flying[seq] = chunk
            sent_order[seq] = order
            in_flight += chunk.wire
        if not flying:
            continue
        # wait for answers, at most until the oldest chunk's timer runs out; in the tail (nothing new to send) the
        # timer is a probe after two round trips, not the backed-off timeout: the line is idle, resends cost nothing
        tail = not todo and next_offset >= len(data)
        timer = min(rtt.rto, max(2 * (rtt.srtt or rtt.rto), 0.05)) if tail else rtt.rto
        oldest = min(flying.values(), key=lambda c: c.order)
        deadline = min(oldest.sent_at + timer, last_progress + transport.budget)
        frames, _ = transport.read(deadline)
        now = time.monotonic()
        for f in frames:
            if f.kind == Kind.ACK and (offsets := unpack_ack(f.payload)):
                chunk = flying.get(f.seq)
                if chunk is None or chunk.offset != offsets[0]:
                    chunk = None  # a late ACK of an earlier send: its offsets still count
                elif chunk.sends == 1:
                    rtt.sample(now - chunk.sent_at)
                for offset in offsets:
                    done = by_offset.pop(offset, None)
                    if done is None:
                        continue
                    delivered += done.length
                    last_progress = now
                    sizer.outcome(done.wire, lost=False)
                    if done in todo:
                        todo.remove(done)
                for s in [s for s, c in flying.items() if c.offset not in by_offset]:
                    del flying[s]
                if chunk is not None:  # everything sent before it and still unanswered was lost
                    for s, c in list(flying.items()):
                        if c.order < chunk.order:
                            del flying[s]
                            lose(c)
                if progress:
                    progress(delivered, len(data))
            elif f.kind == Kind.NAK:  # the frame sent right after the device's last intact one was damaged
                transport.stats.naks += 1
                after = sent_order.get(f.seq, -1) + 1
                hit = next((s for s, c in flying.items() if c.order == after), None)
                if hit is not None:
                    lose(flying.pop(hit))
            elif f.kind == Kind.ERROR and f.seq in flying:
                raise ProtocolError(f"the firmware refused IMAGE_CHUNK: {f.payload.decode(errors='replace')}")
        now = time.monotonic()
        if now - last_progress > transport.budget:
            raise transport.gave_up("IMAGE_CHUNK", last_progress)
        if flying:
            oldest = min(flying.values(), key=lambda c: c.order)
            if now >= oldest.sent_at + timer:
                transport.stats.timeouts += 1
                if not tail:
                    rtt.timed_out()
                for s, c in [(s, c) for s, c in flying.items() if tail or c is oldest]:
                    del flying[s]
                    lose(c, known=not tail)
