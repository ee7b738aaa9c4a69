"""A board in a labgrid farm (``--board=labgrid:PLACE`` or ``--board=labgrid:TAG=VALUE,…``): one place reserved and
acquired for this session (harness/farm/lease.py), its UART over the network, its flashing done beside its probe by
the exporter host's flash agent (harness/farm/agent.py), with pyOCD's target code the same as for a local board.

The place's resources say where things are: a ``NetworkSerialPort`` (``protocol: raw`` is plain TCP,
``socket://host:port``; otherwise RFC 2217 through ser2net, which pyserial needs opened with ``ign_set_control``,
docs/notes/labgrid.md) and a ``NetworkService`` (the flash agent's address and port). Its tags name the board
profile (``board=``) and the probe (``probe=`` unique id).

Failures of the farm itself — the coordinator, the agent, the network port, a place lost mid-session — are
``FarmError`` (infrastructure), never a test outcome.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import serial

from harness.boards import Board
from harness.errors import FarmError
from harness.farm.agent import remote_flash, remote_reset
from harness.farm.coordinator import Coordinator
from harness.farm.lease import FarmRequest, Lease
from harness.targets.base import Target


def serial_url(params: dict) -> str:
    """The pyserial URL of an exported ``NetworkSerialPort``'s parameters."""
    host, port = params["host"], params["port"]
    if params.get("protocol", "rfc2217") == "raw":
        return f"socket://{host}:{port}"
    return f"rfc2217://{host}:{port}?ign_set_control"


class NetworkLink:
    """The place's serial port across the network: a pyserial object whose transport failures are FarmErrors.

    Its read timeout is kept here: the port itself polls with a fixed short timeout, because plain pyserial 3.5
    renegotiates every port setting with the RFC 2217 server each time the timeout changes (the session changes it
    per request), which ser2net answers slowly enough to lose the conversation; pyserial-labgrid's fork does not.
    Which of the two owns ``serial`` depends on the order pip installed them (docs/notes/labgrid.md)."""

    POLL = 0.05

    def __init__(self, url: str, baud: int, timeout: float, place: str, why_lost: Callable[[], str | None]):
        """``why_lost`` says why the place is no longer ours, or None: a port that fails because the place was
        taken away (its exporter stops ser2net) is reported as that."""
        self.url, self.place, self.why_lost, self.timeout = url, place, why_lost, timeout
        if url.startswith("rfc2217://"):
            from harness.errors import DependencyError
            from harness.farm.serial_package import farm_serial_problem

            problem = farm_serial_problem()
            if problem:
                raise DependencyError(f"place {place}: {problem}")
        try:
            self._port = serial.serial_for_url(url, baudrate=baud, timeout=self.POLL)
        except (serial.SerialException, OSError, ValueError) as exc:
            raise FarmError(f"place {place}: cannot open its serial port {url}: {exc}") from exc

    def _guard(self, fn, *args):
        try:
            return fn(*args)
        except (serial.SerialException, OSError) as exc:
            lost = self.why_lost()
            raise FarmError(lost or f"place {self.place}: its serial port {self.url} failed: {exc}") from exc

    def read(self, n: int = 1) -> bytes:
        """Up to ``n`` bytes within ``timeout`` seconds (None: until ``n`` came), as pyserial's read."""
        deadline = None if self.timeout is None else time.monotonic() + self.timeout
        data = b""
        while len(data) < n:
            data += self._guard(self._port.read, n - len(data))
            if deadline is not None and time.monotonic() >= deadline:
                break
        return data

    def write(self, data: bytes) -> int:
        return self._guard(self._port.write, data)

    def flush(self) -> None:
        self._guard(self._port.flush)

    def reset_input_buffer(self) -> None:
        self._guard(self._port.reset_input_buffer)

    @property
    def in_waiting(self) -> int:
        return self._guard(lambda: self._port.in_waiting)

    def close(self) -> None:
        self._port.close()


class LabgridTarget(Target):
    kind = "pyocd"  # the firmware runs on the place's board, flashed by pyOCD beside its probe

    @classmethod
    def open(cls, board: Board, port: str | None = None, *, farm: FarmRequest, coordinator: str,
             progress: Callable[[float], None] | None = None, say=None, **_options) -> LabgridTarget:
        return cls(board, farm, coordinator, progress, say)

    def __init__(self, board: Board, farm: FarmRequest, coordinator: str,
                 progress: Callable[[float], None] | None = None, say=None):
        super().__init__(board)
        self.progress = progress
        self.coordinator = Coordinator(coordinator)
        self.lease = Lease(self.coordinator, farm, say=say)
        try:
            place = self.lease.acquire()
            self._locate(place)
        except BaseException:
            self.close()
            raise

    def _locate(self, place) -> None:
        self.place = place.name
        if place.tags.get("board") != self.board.name:
            raise FarmError(f"place {place.name} is tagged board={place.tags.get('board')}, not {self.board.name}")
        self.probe = place.tags.get("probe")
        if not self.probe:
            raise FarmError(f"place {place.name} has no probe=<unique id> tag: `harness farm places` sets it")
        try:
            resources = self.coordinator.resources(place.name)
        except FarmError as exc:  # the place was ours a moment ago: the session lost it with the coordinator
            raise FarmError(f"place {place.name} lost: {exc}") from None
        ports = [r for r in resources if r.cls == "NetworkSerialPort"]
        agents = [r for r in resources if r.cls == "NetworkService"]
        if len(ports) != 1 or len(agents) != 1:
            found = ", ".join(f"{r.exporter}/{r.group}/{r.cls}" for r in resources) or "none"
            raise FarmError(f"place {place.name} needs one NetworkSerialPort and one NetworkService (the flash "
                            f"agent) among its acquired resources, has: {found}; is its exporter running?")
        self.exporter = ports[0].exporter
        self.url = serial_url(ports[0].params)
        self.agent = (str(agents[0].params["address"]), int(agents[0].params["port"]))

    @property
    def host(self) -> str:
        return self.agent[0]

    def properties(self) -> dict[str, str]:
        """Which physical board ran: for junit properties, the summary and the history."""
        return {"place": self.place, "exporter": self.exporter, "exporter_host": self.host, "probe": self.probe}

    def describe(self) -> str:
        probe = f"virtual bench {self.probe} (QEMU)" if self.board.emulator else f"stlink:{self.probe}"
        return (f"pyOCD {probe} ({self.board.name}) at labgrid place {self.place}, exporter {self.exporter} "
                f"({self.host}), UART {self.url}")

    def load(self, elf: Path, build_id: str) -> None:
        self.lease.check()
        if self._link is None:
            self._link = NetworkLink(self.url, self.board.baud, 1.0, self.place,
                                     lambda: self.lease.why_lost(settle=3.0))
        remote_flash(self.agent, self.board.name, self.probe, Path(elf), build_id, self._link.reset_input_buffer,
                     self.progress)
        self.lease.check()

    def reset(self) -> None:
        self.lease.check()
        remote_reset(self.agent, self.board.name, self.probe,
                     self._link.reset_input_buffer if self._link is not None else None)

    def check(self) -> None:
        self.lease.check()

    def close(self) -> None:
        try:
            self._drop_link()
        finally:
            try:
                self.lease.release()
            finally:
                self.coordinator.close()
