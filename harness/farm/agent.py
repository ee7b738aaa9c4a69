"""Flashing next to the probe: ``harness farm agent`` runs on each exporter host beside its ST-LINKs; a farm client
sends it the ELF, and the agent flashes, verifies and resets with the same code a local board uses
(``PyocdTarget.flash``: reset-and-halt before programming, the build-id skip, read-back verify). Only the ELF and a
few JSON lines cross the network, never SWD transfers.

Why not the alternatives (docs/farm.md): pyOCD's remote probe server sends every SWD transfer over the network (a
flash is thousands of round trips) and has an open bug where the server's TransferFaultError reaches the client as a
success; labgrid's FlashScriptDriver and file transfer need SSH between every CI runner and every bench host.

The conversation, one TCP connection per operation, JSON lines:

    client → {"op": "flash", "board": B, "probe": UID, "build_id": ID, "size": N}, then N bytes of ELF
             {"op": "reset", "board": B, "probe": UID}
    agent  → {"progress": f}…  {"halted": true}  (the core waits in reset: the client empties its serial link)
    client → {"flushed": true}
    agent  → {"done": true, "flashed": bool, "seconds": s}  or  {"error": "one line", "kind": "TargetError"}
"""

from __future__ import annotations

import json
import socket
import socketserver
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from harness import errors
from harness.errors import FarmError, HarnessError, UsageError

CONNECT_TIMEOUT = 10.0
OPERATION_TIMEOUT = 600.0   # a full flash of 1 MB at a slow SWD clock stays well inside this
MAX_ELF = 64 * 1024 * 1024


def _send(stream, message: dict) -> None:
    stream.write((json.dumps(message) + "\n").encode())
    stream.flush()


def _receive(stream) -> dict:
    line = stream.readline(1 << 16)
    if not line:
        raise ConnectionError("the other side closed the connection")
    return json.loads(line)


# ---- the agent (exporter side) -------------------------------------------------------------------------------

class _Handler(socketserver.StreamRequestHandler):
    def handle(self) -> None:
        try:
            request = _receive(self.rfile)
            elf = self.rfile.read(request["size"]) if request.get("op") == "flash" else b""
            if request.get("op") == "flash" and not 0 < len(elf) == request["size"] <= MAX_ELF:
                raise UsageError(f"incomplete ELF: {len(elf)} of {request.get('size')} bytes")
            answer = self.server.operate(request, elf, self._progress, self._flush)
        except HarnessError as exc:
            answer = {"error": str(exc), "kind": type(exc).__name__}
        except (KeyError, ValueError, TypeError) as exc:
            answer = {"error": f"malformed request: {exc}", "kind": "UsageError"}
        except ConnectionError:
            return  # the client went away mid-operation; pyOCD's session is closed by then
        _send(self.wfile, answer)

    def _progress(self, fraction: float) -> None:
        _send(self.wfile, {"progress": round(fraction, 3)})

    def _flush(self) -> None:
        _send(self.wfile, {"halted": True})
        if not _receive(self.rfile).get("flushed"):
            raise UsageError("the client did not confirm flushing its serial link")


class Agent(socketserver.ThreadingTCPServer):
    """Serves flash and reset requests for the probes of this host, one operation per probe at a time."""
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], boards_file: str | Path | None = None, target_factory=None):
        super().__init__(address, _Handler)
        self.boards_file = boards_file
        self.target_factory = target_factory or _pyocd_target
        self._locks: dict[str, threading.Lock] = {}
        self._guard = threading.Lock()

    def operate(self, request: dict, elf: bytes, progress, flush) -> dict:
        from harness.boards import board

        spec, probe = board(request["board"], self.boards_file), str(request["probe"])
        if not spec.on_serial_port:
            raise UsageError(f"board {spec.name} is not flashed through a probe ({spec.backend})")
        with self._guard:
            lock = self._locks.setdefault(probe.casefold(), threading.Lock())
        with lock:
            start = time.monotonic()
            target = self.target_factory(spec, probe, progress)
            try:
                if request["op"] == "reset":
                    target.restart(flush)
                    flashed = False
                elif request["op"] == "flash":
                    with tempfile.TemporaryDirectory(prefix="rp-agent-") as work:
                        path = Path(work) / "firmware.elf"
                        path.write_bytes(elf)
                        flashed = target.flash(path, str(request.get("build_id", "")), flush)
                else:
                    raise UsageError(f"unknown operation {request['op']!r} (flash, reset)")
            finally:
                target.close()
            return {"done": True, "flashed": flashed, "seconds": round(time.monotonic() - start, 3)}


def _pyocd_target(spec, probe: str, progress):
    from harness.targets.pyocd_target import PyocdTarget

    return PyocdTarget(spec, None, probe_id=probe, progress=progress)


def serve(host: str, port: int, boards_file=None, ready: Callable[[int], None] | None = None) -> None:
    """Run the agent until interrupted; ``ready`` gets the bound port (0 picks a free one)."""
    try:
        agent = Agent((host, port), boards_file)
    except OSError as exc:
        raise UsageError(f"the flash agent cannot listen on {host}:{port}: {exc.strerror or exc}") from exc
    with agent:
        if ready is not None:
            ready(agent.server_address[1])
        agent.serve_forever()


# ---- the client (the machine running the tests) ----------------------------------------------------------------

def _call(address: tuple[str, int], request: dict, payload: bytes, flush: Callable[[], None] | None,
          progress: Callable[[float], None] | None) -> dict:
    where = f"the flash agent at {address[0]}:{address[1]}"
    try:
        with socket.create_connection(address, timeout=CONNECT_TIMEOUT) as sock:
            sock.settimeout(OPERATION_TIMEOUT)
            stream = sock.makefile("rwb")
            _send(stream, request)
            stream.write(payload)
            stream.flush()
            while True:
                answer = _receive(stream)
                if "progress" in answer and progress is not None:
                    progress(float(answer["progress"]))
                elif answer.get("halted"):
                    if flush is not None:
                        flush()
                    _send(stream, {"flushed": True})
                elif "done" in answer or "error" in answer:
                    break
    except (OSError, ConnectionError, ValueError) as exc:
        raise FarmError(f"{where}: {exc}; is `harness farm agent` running on that host?") from exc
    if "error" in answer:
        kind = getattr(errors, str(answer.get("kind")), None)
        kind = kind if isinstance(kind, type) and issubclass(kind, HarnessError) else FarmError
        raise kind(f"{answer['error']} (on {address[0]}, by its flash agent)")
    return answer


def remote_flash(address: tuple[str, int], board: str, probe: str, elf: Path, build_id: str,
                 flush: Callable[[], None] | None, progress: Callable[[float], None] | None = None) -> dict:
    data = Path(elf).read_bytes()
    request = {"op": "flash", "board": board, "probe": probe, "build_id": build_id, "size": len(data)}
    return _call(address, request, data, flush, progress)


def remote_reset(address: tuple[str, int], board: str, probe: str, flush: Callable[[], None] | None) -> dict:
    return _call(address, {"op": "reset", "board": board, "probe": probe}, b"", flush, None)
