"""A place held for one pytest session (or one xdist worker): ``--board=labgrid:PLACE`` or
``--board=labgrid:TAG=VALUE[,…]``.

labgrid keeps an acquired place acquired until someone releases it, even after its holder died (its reservations
in the acquired state never expire). So the holder also keeps a lease in the place's comment, renewed every
``ttl / 6`` seconds; a session waiting for the same tags releases a place whose lease has run out (the holder was
killed) and cancels that holder's reservation, and then labgrid allocates it as usual. A lease that cannot be
renewed — the place released or taken by someone else, the coordinator gone — makes ``check`` raise, so the
tests fail with one line instead of hanging or reporting results from another board.
"""

from __future__ import annotations

import os
import re
import socket
import threading
import time
from dataclasses import dataclass, field

from harness.errors import FarmError, UsageError
from harness.farm.coordinator import Coordinator, PlaceInfo

PREFIX = "labgrid:"
TTL = 60.0             # seconds without renewal after which a lease is stale (labgrid's reservation timeout)
POLL = 1.0             # seconds between reservation polls while waiting (as labgrid-client reserve --wait)
LEASE = re.compile(r"harness lease (?P<holder>\S+) token (?P<token>\S+) until (?P<until>\d+(\.\d+)?)")
TAG = re.compile(r"^[a-z][a-z0-9_]*$")  # labgrid's tag key syntax


@dataclass(frozen=True)
class FarmRequest:
    """What ``--board=labgrid:…`` asks for: one named place, or any place carrying all ``tags``."""
    place: str | None = None
    tags: dict[str, str] = field(default_factory=dict)
    lease: float = TTL     # seconds our lease lasts without renewal
    wait: float = 3600.0   # seconds to wait for a free place

    def __str__(self) -> str:
        return PREFIX + (self.place or ",".join(f"{k}={v}" for k, v in self.tags.items()))

    @property
    def filters(self) -> dict[str, str]:
        """The reservation's filter: labgrid matches a place's name as the tag ``name``."""
        return {"name": self.place} if self.place else dict(self.tags)

    def matches(self, place: PlaceInfo) -> bool:
        return place.name == self.place if self.place else all(place.tags.get(k) == v for k, v in self.tags.items())


def parse_farm_board(spec: str) -> FarmRequest:
    """``labgrid:PLACE`` or ``labgrid:KEY=VALUE[,KEY=VALUE…]``; UsageError naming the form otherwise."""
    body = spec[len(PREFIX):].strip()
    if not body:
        raise UsageError(f"--board={spec}: name a place or tags, e.g. --board=labgrid:bench-1 or "
                         f"--board=labgrid:board=nucleo-f429zi")
    if "=" not in body:
        return FarmRequest(place=body)
    tags = {}
    for pair in body.split(","):
        key, _, value = pair.partition("=")
        if not TAG.match(key.strip()) or not value.strip():
            raise UsageError(f"--board={spec}: {pair!r} is not KEY=VALUE (keys: lower-case letters, digits, _)")
        tags[key.strip()] = value.strip()
    return FarmRequest(tags=tags)


def lease_of(place: PlaceInfo) -> tuple[str, str, float] | None:
    """(holder, token, until) of a harness lease in the place's comment, or None (not held by a harness)."""
    found = LEASE.search(place.comment or "")
    return (found["holder"], found["token"], float(found["until"])) if found else None


def holder_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


class Lease:
    """Reserve, acquire and keep one place; ``release`` (also on ``__exit__``) gives it back."""

    def __init__(self, coordinator: Coordinator, request: FarmRequest, say=None):
        self.coordinator, self.request = coordinator, request
        self.ttl, self.wait = request.lease, request.wait
        self.say = say or (lambda text: None)
        self.place: PlaceInfo | None = None
        self.token: str | None = None
        self.waited = 0.0          # seconds spent waiting for the place
        self.lost: str | None = None
        self._stop = threading.Event()
        self._keeper: threading.Thread | None = None

    # -- taking the place --

    def acquire(self) -> PlaceInfo:
        start = time.monotonic()
        self.token = self.coordinator.reserve(self.request.filters)
        said = False
        while True:
            state, places = self.coordinator.poll(self.token)
            if state in ("allocated", "acquired") and places:
                break
            if state not in ("waiting",):
                raise FarmError(f"reservation for {self.request} is {state}")
            self._reclaim_stale()
            if any(self.request.matches(p) and not p.acquired for p in self.coordinator.places().values()):
                self.coordinator.nudge()  # a matching place is free but not yet allocated: schedule now
            if time.monotonic() - start > self.wait:
                self.coordinator.cancel(self.token)
                raise FarmError(f"no place for {self.request} became free in {self.wait:g} s "
                                f"(held: {self._holders() or 'none match'})")
            if not said:
                self.say(f"waiting for a place for {self.request}: held by {self._holders() or 'nobody yet'}")
                said = True
            time.sleep(POLL)
        self.coordinator.acquire(places[0])
        self.waited = time.monotonic() - start
        try:  # from here the place is ours: losing the coordinator now loses the place, and says so
            self._renew(places[0])
            self.place = self.coordinator.places()[places[0]]
        except FarmError as exc:
            self.lost = f"place {places[0]} lost: {exc}"
            raise FarmError(self.lost) from None
        self._keeper = threading.Thread(target=self._keep, name=f"lease-{places[0]}", daemon=True)
        self._keeper.start()
        return self.place

    def _holders(self) -> str:
        return ", ".join(f"{p.name} by {p.acquired}" for p in self.coordinator.places().values()
                         if self.request.matches(p) and p.acquired)

    def _reclaim_stale(self) -> None:
        """Release matching places whose harness lease ran out (their holder was killed) and cancel its
        reservation, so labgrid can allocate them again."""
        for place in self.coordinator.places().values():
            lease = lease_of(place)
            if place.acquired and lease and self.request.matches(place) and lease[2] < time.time():
                self.say(f"place {place.name}: the lease of {lease[0]} ran out {time.time() - lease[2]:.0f} s "
                         f"ago; releasing it")
                self.coordinator.release(place.name, holder=place.acquired)
                self.coordinator.cancel(lease[1])
                self.coordinator.nudge()

    # -- keeping it --

    def _renew(self, name: str) -> None:
        until = time.time() + self.ttl
        self.coordinator.set_comment(name, f"harness lease {holder_name()} token {self.token} until {until:.0f}")

    def _verify(self) -> str | None:
        """Why the place is no longer ours, asked of the coordinator now; None while it is."""
        name = self.place.name
        try:
            place = self.coordinator.places().get(name)
        except FarmError as exc:
            return f"place {name} lost: {exc}"
        lease = lease_of(place) if place else None
        if place is None or place.acquired != self.coordinator.identity or lease is None or lease[1] != self.token:
            holder = f"by {place.acquired}" if place is not None and place.acquired else "by nobody"
            return f"place {name} was taken away mid-session (now held {holder})"
        return None

    def _keep(self) -> None:
        while not self._stop.wait(self.ttl / 6):
            self.lost = self.lost or self._verify()
            if self.lost:
                return
            try:
                self._renew(self.place.name)
            except FarmError as exc:
                self.lost = f"place {self.place.name} lost: {exc}"
                return

    def why_lost(self, settle: float = 0.0) -> str | None:
        """Why the place is no longer ours, or None; asked again for up to ``settle`` seconds (the coordinator
        has the exporter stop a released place's ser2net before it records the release)."""
        deadline = time.monotonic() + settle
        while True:
            self.lost = self.lost or self._verify()
            if self.lost or time.monotonic() >= deadline:
                return self.lost
            time.sleep(0.2)

    def check(self) -> None:
        """FarmError unless the place is still ours, as the coordinator says now (one request)."""
        self.lost = self.lost or self._verify()
        if self.lost:
            raise FarmError(self.lost)

    # -- giving it back --

    def release(self) -> None:
        self._stop.set()
        if self._keeper is not None:
            self._keeper.join(5)
        try:
            if self.place is not None and not self.lost:
                self.coordinator.set_comment(self.place.name, "")
                self.coordinator.release(self.place.name)
            if self.token is not None:
                self.coordinator.cancel(self.token)
                self.coordinator.nudge()  # so a session waiting for the place gets it now, not at the next tick
        except FarmError:
            pass  # the coordinator is gone or the place was taken: nothing of ours is left to give back
        finally:
            self.place = None if self.lost else self.place
            self.token = None

    def __enter__(self) -> Lease:
        return self

    def __exit__(self, *exc) -> None:
        self.release()
