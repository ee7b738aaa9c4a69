"""The labgrid coordinator, as the harness talks to it: labgrid's own ``ClientSession`` (the code behind
``labgrid-client``) on a private event loop in a thread, so the harness's synchronous code can call it and the
session's stream keeps receiving place and resource updates meanwhile.

Every labgrid or gRPC failure becomes a one-line ``FarmError`` (an infrastructure error, never a test outcome).
Facts used (docs/notes/labgrid.md): the coordinator speaks gRPC since labgrid 25.0, default port 20408; a place is
acquired by ``host/user`` (the stream's startup name); reservations are allocated by tags, served by priority then
age, and a waiting or allocated reservation expires 60 s after its last poll.
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import os
import threading
import time
from collections.abc import Coroutine
from concurrent.futures import CancelledError
from dataclasses import dataclass, field

from harness.errors import FarmError

DEFAULT_PORT = 20408
CALL_TIMEOUT = 20.0  # seconds one coordinator request may take before the coordinator counts as gone


def _quiet_labgrid(record: logging.LogRecord) -> bool:
    """Drop what labgrid's client logs on the root logger (``coordinator became unavailable``, …): each of those
    failures reaches the user as a one-line FarmError."""
    return f"{os.sep}labgrid{os.sep}remote{os.sep}" not in record.pathname


def coordinator_address(option: str | None) -> str:
    """``--lg-coordinator``, else ``LG_COORDINATOR``, else labgrid's default (``127.0.0.1:20408``)."""
    return option or os.environ.get("LG_COORDINATOR") or f"127.0.0.1:{DEFAULT_PORT}"


@dataclass(frozen=True)
class PlaceInfo:
    name: str
    tags: dict[str, str]
    comment: str = ""
    acquired: str | None = None          # "host/user" holding it
    reservation: str | None = None       # the token it is allocated to
    resources: tuple = ()                # (exporter, group, cls, name) paths while acquired
    matches: tuple[str, ...] = ()


@dataclass(frozen=True)
class Resource:
    exporter: str
    group: str
    cls: str
    params: dict = field(default_factory=dict)


class Coordinator:
    """One connection to a labgrid coordinator. Not for concurrent use from several threads at once: calls are
    serialised by a lock (the lease's keep-alive thread and the session share one)."""

    def __init__(self, address: str):
        from labgrid.remote.client import ClientSession, Error  # the [farm] extra: imported only when used

        self.address = address
        self._errors = (Error,)
        self.session = None
        root = logging.getLogger()
        if not root.handlers:  # labgrid logs its failures on the root logger; ours are one-line FarmErrors
            root.addHandler(logging.NullHandler())
        if _quiet_labgrid not in root.filters:  # ... and pytest would show those records under a test's error too
            root.addFilter(_quiet_labgrid)
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name="labgrid-client", daemon=True)
        self._thread.start()
        host, _, port = address.rpartition(":") if ":" in address else (address, "", str(DEFAULT_PORT))
        target = f"{host}:{port or DEFAULT_PORT}"

        async def start():
            session = ClientSession(target, self._loop, args=argparse.Namespace())
            await session.start()
            return session

        try:
            self.session = self._run(start(), f"connect to the labgrid coordinator at {address}")
        except FarmError:
            self._stop_loop()
            raise

    # -- plumbing --

    def _lost(self, doing: str) -> FarmError:
        return FarmError(f"cannot {doing}: the connection to the labgrid coordinator at {self.address} was lost; "
                         f"is labgrid-coordinator still running there?")

    def _run(self, coro: Coroutine, doing: str, timeout: float = CALL_TIMEOUT, *, closing: bool = False):
        """``coro`` on the session's loop, its answer within ``timeout``. Once the session's stream has broken
        (labgrid then sets ``stopping``), a request fails at once rather than after ``timeout``: its answer, a
        sync's included, would never come."""
        import grpc

        if not closing and not self.connected:
            coro.close()
            raise self._lost(doing)
        future = asyncio.run_coroutine_threadsafe(coro, self._loop)
        deadline = time.monotonic() + timeout
        try:
            while True:
                try:
                    return future.result(min(0.1, max(0.0, deadline - time.monotonic())))
                except TimeoutError:
                    if not closing and not self.connected:
                        future.cancel()
                        raise self._lost(doing) from None
                    if time.monotonic() >= deadline:
                        raise
        except TimeoutError as exc:
            future.cancel()
            raise FarmError(f"cannot {doing}: no answer from the labgrid coordinator at {self.address} in "
                            f"{timeout:g} s; is labgrid-coordinator running there?") from exc
        except CancelledError as exc:  # labgrid cancels the syncs still pending when its stream breaks
            raise self._lost(doing) from exc
        except (*self._errors, grpc.RpcError) as exc:
            details = exc.details() if isinstance(exc, grpc.RpcError) and hasattr(exc, "details") else str(exc)
            text = (details or "").strip().splitlines()[0] if (details or "").strip() else type(exc).__name__
            if "Could not connect" in text or "UNAVAILABLE" in text:
                text += (f"; start one with `labgrid-coordinator -l {self.address}` or point --lg-coordinator / "
                         f"LG_COORDINATOR at yours")
            raise FarmError(f"cannot {doing}: {text}") from exc

    def _stub(self, rpc: str, request, doing: str):
        async def call():  # the gRPC call is made inside the session's loop, as labgrid's own are
            return await getattr(self.session.stub, rpc)(request)

        with self._lock:
            return self._run(call(), doing)

    def _stop_loop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(5)

    def close(self) -> None:
        if self._thread.is_alive():
            try:
                self._run(self.session.stop(), "disconnect", timeout=5, closing=True)
                self._run(self.session.close(), "disconnect", timeout=5, closing=True)
            except FarmError:
                pass  # the coordinator is gone already: nothing to tell it
            self._stop_loop()

    def __enter__(self) -> Coordinator:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @property
    def identity(self) -> str:
        """Who this client acquires places as: labgrid's ``host/user`` (LG_HOSTNAME, LG_USERNAME override it)."""
        return f"{self.session.gethostname()}/{self.session.getuser()}"

    @property
    def connected(self) -> bool:
        return self.session is None or not self.session.stopping.is_set()

    # -- what the coordinator knows --

    def sync(self) -> None:
        with self._lock:
            ok = self._run(self.session.sync_with_coordinator(), "sync with the coordinator")
        if not ok:  # the stream broke between the call and its answer: the same words as a call made after
            raise self._lost("sync with the coordinator")

    def places(self) -> dict[str, PlaceInfo]:
        self.sync()
        return {name: PlaceInfo(name, dict(p.tags), p.comment or "", p.acquired, p.reservation,
                                tuple(tuple(r) for r in p.acquired_resources), tuple(str(m) for m in p.matches))
                for name, p in self.session.places.items()}

    def resources(self, place: str) -> list[Resource]:
        """The resources a place has acquired, with their parameters (host, port, … as the exporter gives them)."""
        info = self.places().get(place)
        if info is None:
            raise FarmError(f"no place {place} on the coordinator at {self.address}")
        found = []
        for exporter, group, _cls, name in info.resources:
            entry = self.session.resources.get(exporter, {}).get(group, {}).get(name)
            if entry is not None:
                found.append(Resource(exporter, group, entry.cls, dict(entry.params)))
        return found

    # -- places (the coordinator's own requests, as labgrid-client sends them, without its printing) --

    def _place_request(self, rpc: str, doing: str, **fields) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        self._stub(rpc, getattr(pb2, f"{rpc}Request")(**fields), doing)
        self.sync()

    def create_place(self, name: str) -> None:
        self._place_request("AddPlace", f"create place {name}", name=name)

    def add_match(self, place: str, pattern: str) -> None:
        self._place_request("AddPlaceMatch", f"add {pattern} to place {place}", placename=place, pattern=pattern)

    def set_tags(self, place: str, tags: dict[str, str]) -> None:
        self._place_request("SetPlaceTags", f"tag place {place}", placename=place, tags=tags)

    def set_comment(self, place: str, comment: str) -> None:
        self._place_request("SetPlaceComment", f"comment on place {place}", placename=place, comment=comment)

    def acquire(self, place: str) -> None:
        """Acquire ``place`` for this host/user; refused (FarmError naming the holder) while another holds it."""
        holder = self.places().get(place, PlaceInfo(place, {})).acquired
        if holder is not None:
            raise FarmError(f"place {place} is already acquired by {holder}")
        self._place_request("AcquirePlace", f"acquire place {place}", placename=place)

    def release(self, place: str, holder: str | None = None) -> None:
        """Release ``place``; with ``holder`` (``host/user``) only if that one still holds it (a stale lease)."""
        fields = {"placename": place} | ({"fromuser": holder} if holder else {})
        self._place_request("ReleasePlace", f"release place {place}", **fields)

    # -- reservations --

    def reserve(self, tags: dict[str, str], prio: float = 0.0) -> str:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        request = pb2.CreateReservationRequest(filters={"main": pb2.Reservation.Filter(filter=tags)}, prio=prio)
        return self._stub("CreateReservation", request, f"reserve a place tagged {tags}").reservation.token

    def poll(self, token: str) -> tuple[str, list[str]]:
        """The reservation's state (``waiting``, ``allocated``, ``acquired``, ``expired``, ``invalid``) and its
        places; polling also keeps a waiting or allocated reservation from expiring."""
        from labgrid.remote.common import Reservation
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        answer = self._stub("PollReservation", pb2.PollReservationRequest(token=token), f"poll reservation {token}")
        res = Reservation.from_pb2(answer.reservation)
        return res.state.name, [p for group in res.allocations.values() for p in group]

    def nudge(self) -> None:
        """Make the coordinator schedule now. labgrid 26 computes the free places before it clears a cancelled
        reservation's place, so that place is only allocated on the next pass, which otherwise comes with its 15 s
        tick (docs/farm.md); creating and cancelling a reservation that matches nothing is two passes."""
        self.cancel(self.reserve({"harness_nudge": "none"}))

    def cancel(self, token: str) -> None:
        from labgrid.remote.generated import labgrid_coordinator_pb2 as pb2

        self._stub("CancelReservation", pb2.CancelReservationRequest(token=token), f"cancel reservation {token}")
