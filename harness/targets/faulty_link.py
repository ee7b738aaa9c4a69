"""A bad cable, on purpose: a link that sits between the host and any target's serial link (QEMU's socket, a real
board's port) and damages the bytes crossing it, seeded so a failure can be replayed.

    link = FaultyLink(target.link, parse_faults("flip:0.01,stall:2e-5:2"), seed=7)

Kinds, each a probability per byte crossing the link (in each direction unless ``directions`` says otherwise):
``flip`` one bit of the byte inverted; ``drop`` the byte lost; ``duplicate`` the byte delivered twice;
``garbage`` a random byte inserted before it; ``burst`` this and the next N bytes replaced by random ones
(``burst:RATE:N`` or ``:LO-HI``, default 16-64); ``stall`` the line stops for S seconds before this byte
(``stall:RATE:S`` or ``:LO-HI``, default 0.5-2), the bytes behind it held back, none lost.

It speaks the part of pyserial's interface the protocol session uses (``write``, ``read`` with ``timeout``,
``reset_input_buffer``), so the session cannot tell it from the real link.
"""

from __future__ import annotations

import math
import random
import time
from collections import Counter, deque
from dataclasses import dataclass

from harness.errors import UsageError

KINDS = ("flip", "drop", "duplicate", "garbage", "burst", "stall")
DIRECTIONS = ("to-device", "from-device")
_DEFAULT_PARAM = {"burst": (16.0, 64.0), "stall": (0.5, 2.0)}


@dataclass(frozen=True)
class Fault:
    kind: str
    rate: float                          # per byte
    param: tuple[float, float] = (0, 0)  # burst bytes or stall seconds: uniform in [lo, hi]

    def __str__(self) -> str:
        lo, hi = self.param
        extra = "" if self.kind not in _DEFAULT_PARAM else f":{lo:g}" if lo == hi else f":{lo:g}-{hi:g}"
        return f"{self.kind}:{self.rate:g}{extra}"


def parse_faults(text: str) -> tuple[Fault, ...]:
    """``KIND:RATE[:PARAM][,KIND:RATE…]`` → faults; a UsageError names the bad part and what is allowed."""
    faults = []
    for part in filter(None, (p.strip() for p in text.split(","))):
        kind, _, rest = part.partition(":")
        rate_text, _, param_text = rest.partition(":")
        if kind not in KINDS:
            raise UsageError(f"--fault {part}: unknown fault kind {kind!r}; use one of {', '.join(KINDS)} "
                             f"(e.g. --fault flip:0.01,stall:2e-5:2)")
        try:
            rate = float(rate_text)
            lo, _, hi = param_text.partition("-")
            param = (float(lo), float(hi or lo)) if param_text else _DEFAULT_PARAM.get(kind, (0.0, 0.0))
        except ValueError:
            raise UsageError(f"--fault {part}: expected KIND:RATE[:PARAM] with numbers, e.g. burst:1e-3:64 or "
                             f"stall:2e-5:0.5-2") from None
        if not 0.0 <= rate <= 0.5:
            raise UsageError(f"--fault {part}: the rate is a probability per byte, 0 to 0.5")
        if param_text and kind not in _DEFAULT_PARAM:
            raise UsageError(f"--fault {part}: only burst (bytes) and stall (seconds) take a third field")
        too_long = param[1] > {"stall": 60, "burst": 4096}.get(kind, float("inf"))
        if kind in _DEFAULT_PARAM and (not 0 < param[0] <= param[1] or too_long):
            raise UsageError(f"--fault {part}: the range must be positive and ordered (burst ≤ 4096 bytes, "
                             f"stall ≤ 60 s)")
        faults.append(Fault(kind, rate, param))
    if not faults:
        raise UsageError("--fault: give at least one KIND:RATE, e.g. --fault flip:0.01")
    return tuple(faults)


class _Damage:
    """One direction's fault process: bytes in, (release time, bytes) out.

    Each kind hits a byte independently with its rate, so the bytes between two hits of a kind are geometrically
    distributed: drawing those gaps costs one random number per fault, not one per byte, and keeps the injector's
    own cost out of the faulty times it measures."""

    def __init__(self, faults: tuple[Fault, ...], rng: random.Random):
        self.faults, self.rng = faults, rng
        self._next = [self._gap(f.rate) for f in faults]  # bytes before each kind's next hit
        self.counts: Counter = Counter()
        self._burst_left = 0
        self._held_until = 0.0  # a stall delays everything behind it

    def _gap(self, rate: float) -> int:
        if rate <= 0:
            return 1 << 62  # never (parse_faults keeps rates within 0..0.5)
        return int(math.log(1.0 - self.rng.random()) / math.log1p(-rate))

    def _hits(self, n: int) -> list[tuple[int, int]]:
        """(position, fault index) of the hits among the next ``n`` bytes, in order."""
        hits = []
        for j, f in enumerate(self.faults):
            pos = self._next[j]
            while pos < n:
                hits.append((pos, j))
                pos += 1 + self._gap(f.rate)
            self._next[j] = pos - n
        hits.sort()
        return hits

    def apply(self, data: bytes, now: float, enabled: bool = True) -> list[tuple[float, bytes]]:
        """The damaged bytes as segments with the time each may be delivered (a stall splits them)."""
        if not enabled or not self.faults or not data:
            return [(max(now, self._held_until), data)] if data else []
        out, segments, pos = bytearray(), [], self._burst(0, len(data))
        out += self._noise(pos)
        hits = self._hits(len(data))
        i = 0
        while i < len(hits):
            p = hits[i][0]
            kinds = []
            while i < len(hits) and hits[i][0] == p:
                kinds.append(hits[i][1])
                i += 1
            if p < pos:
                continue  # inside a burst: already replaced
            out += data[pos:p]
            byte, pos = data[p], p + 1
            for j in kinds:
                f = self.faults[j]
                self.counts[f.kind] += 1
                if f.kind == "stall":
                    segments.append((max(now, self._held_until), bytes(out)))
                    out = bytearray()
                byte = self._hit(f, byte, out, now)
                if byte is None:
                    break
            else:
                out.append(byte)
            start, pos = pos, self._burst(pos, len(data))
            out += self._noise(pos - start)
        out += data[pos:]
        segments.append((max(now, self._held_until), bytes(out)))
        return [(t, b) for t, b in segments if b]

    def _burst(self, pos: int, end: int) -> int:
        """Where the running burst (if any) ends within [pos, end); it goes on into the next write if longer."""
        take = min(self._burst_left, end - pos)
        self._burst_left -= take
        return pos + take

    def _noise(self, n: int) -> bytes:
        return self.rng.randbytes(n)

    def _hit(self, f: Fault, byte: int, out: bytearray, now: float) -> int | None:
        """Applies one fault to ``byte``: returns the byte to go on with, or None if it is used up."""
        rng = self.rng
        if f.kind == "flip":
            return byte ^ (1 << rng.randrange(8))
        if f.kind == "drop":
            return None
        if f.kind == "duplicate":
            out.append(byte)
            return byte
        if f.kind == "garbage":
            out.append(rng.randrange(256))
            return byte
        if f.kind == "burst":
            self._burst_left = round(rng.uniform(*f.param)) - 1
            out.append(rng.randrange(256))
            return None
        self._held_until = max(self._held_until, now) + rng.uniform(*f.param)  # stall
        return byte


class FaultyLink:
    def __init__(self, link, faults: tuple[Fault, ...], seed: int = 0, directions: tuple[str, ...] = DIRECTIONS):
        bad = set(directions) - set(DIRECTIONS)
        if bad:
            raise UsageError(f"fault direction {', '.join(sorted(bad))}: use {' or '.join(DIRECTIONS)}")
        self.link, self.timeout, self.directions = link, getattr(link, "timeout", None), directions
        self.enabled = True  # False: bytes pass untouched (the clean half of a benchmark, on the same link)
        self.set_faults(faults, seed)
        self._outbound: deque[tuple[float, bytes]] = deque()
        self._inbound: deque[tuple[float, bytes]] = deque()

    def set_faults(self, faults: tuple[Fault, ...], seed: int = 0) -> None:
        """From now on, these faults (counts start again)."""
        self.faults, rng = faults, random.Random(seed)
        self._damage = {d: _Damage(faults if d in self.directions else (), random.Random(rng.getrandbits(64)))
                        for d in DIRECTIONS}

    @property
    def counts(self) -> dict[str, dict[str, int]]:
        """Faults injected so far, per direction and kind."""
        return {d: dict(self._damage[d].counts) for d in DIRECTIONS}

    def write(self, data: bytes) -> int:
        self._outbound.extend(self._damage["to-device"].apply(bytes(data), time.monotonic(), self.enabled))
        self._pump()
        return len(data)

    def _pump(self) -> None:
        """Hands the bytes whose stall is over to the real link."""
        now = time.monotonic()
        while self._outbound and self._outbound[0][0] <= now:
            self.link.write(self._outbound.popleft()[1])

    def read(self, size: int = 1) -> bytes:
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        while True:
            self._pump()
            left = 0.02 if deadline is None else min(0.02, max(deadline - time.monotonic(), 0.0))
            self.link.timeout = left if not self._inbound else 0
            data = self.link.read(1)
            if data:
                self.link.timeout = 0
                data += self.link.read(65536)
                self._inbound.extend(self._damage["from-device"].apply(data, time.monotonic(), self.enabled))
            ready = self._take(size)
            if ready or (deadline is not None and time.monotonic() >= deadline):
                return ready
            if self._inbound and not data:  # only stalled bytes wait: do not spin
                time.sleep(min(0.005, left))

    def _take(self, size: int) -> bytes:
        now, out = time.monotonic(), bytearray()
        while self._inbound and self._inbound[0][0] <= now and len(out) < size:
            release, data = self._inbound.popleft()
            take = size - len(out)
            out += data[:take]
            if data[take:]:
                self._inbound.appendleft((release, data[take:]))
        return bytes(out)

    def reset_input_buffer(self) -> None:
        self._inbound.clear()
        self.link.reset_input_buffer()

    def close(self) -> None:
        self.link.close()


__all__ = ["Fault", "FaultyLink", "parse_faults"]
