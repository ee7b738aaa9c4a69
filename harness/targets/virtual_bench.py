"""A virtual bench board: the flash, reset and UART of a real pyOCD board, backed by QEMU (``harness virtual-bench``).

The server owns a pty pair (its slave ``/dev/pts/N`` is the board's serial port; it stays the same across QEMU
restarts), the board's flash as a bytearray (erased = 0xFF) and QEMU's netduinoplus2. A control channel (a Unix
socket speaking JSON lines) is what harness/targets/virtual_probe.py drives through pyOCD: read flash, the flash
algorithm's init, sector/chip erase, program, halt, resume, reset-and-halt (QEMU stopped: nothing reaches the pty)
and reset (the flash image written out and QEMU booted on it at 0x08000000). A relay thread moves bytes between the
pty master and QEMU's USART1 socket. The bench registers itself (``registry_dir()/<pts name>.json``: pty, probe id,
control socket, board layout) so the port leads to its probe, as an ST-LINK's virtual COM port does.

It models the silicon fact of docs/notes/stm32-silicon.md: the F4 flash algorithm's Init writes FLASH_ACR = 0, so
while the core is still on the firmware's PLL (halted without a reset, or running) every flash read returns garbage
(here: each byte inverted) until the next reset. Flashing from reset-and-halt, as ``pyocd load`` does, is right.
"""

from __future__ import annotations

import base64
import json
import os
import selectors
import shutil
import signal
import socket
import tempfile
import threading
import tty
from pathlib import Path

from harness.boards import Board
from harness.errors import TargetError
from harness.targets.emulator import claim_ports, log_tail, open_link, release_ports, spawn, stop
from harness.targets.qemu import MACHINE, require_qemu
from harness.targets.virtual_probe import flash_sectors, registry_dir

ERASED = 0xFF
RELAY_BUFFER = 64 * 1024   # firmware output held for a pty nobody reads before QEMU is made to wait
RESET_HALTED, RUNNING, HALTED, LOCKED_UP = "reset-halted", "running", "halted", "locked-up"


class BenchRequestError(Exception):
    """A control request the board refuses; ``kind`` is ``fault`` (a bus fault), ``flash`` (the flash controller
    reports an error) or ``request`` (a malformed request)."""

    def __init__(self, kind: str, message: str):
        super().__init__(message)
        self.kind = kind


class Relay(threading.Thread):
    """Bytes between the pty master and QEMU's USART1 socket. Without QEMU attached (the core halted at reset), what
    the host sends is dropped, as a halted core's UART drops it; ``attach``/``detach`` return only once this thread
    has seen the change, so it never touches a socket that is being closed, and detach drops undelivered output."""

    def __init__(self, master_fd: int):
        super().__init__(name="virtual-bench-relay", daemon=True)
        self.master = master_fd
        self._wake_r, self._wake_w = os.pipe()
        self._lock = threading.Condition()
        self._link_fd: int | None = None
        self._generation = self._seen = 0
        self._to_host, self._to_device = bytearray(), bytearray()
        self._stopped = False

    def attach(self, link_fd: int | None) -> None:
        with self._lock:
            self._link_fd = link_fd
            self._generation += 1
            generation = self._generation
            os.write(self._wake_w, b"x")
            while self._seen < generation and self.is_alive():
                self._lock.wait(0.5)

    def detach(self) -> None:
        self.attach(None)

    def stop(self) -> None:
        self._stopped = True
        if self.is_alive():
            self.detach()
            self.join(2.0)
        for fd in (self._wake_r, self._wake_w):
            os.close(fd)

    def run(self) -> None:
        while True:
            with self._lock:
                link, generation = self._link_fd, self._generation
                if self._seen != generation:
                    self._to_host.clear()
                    self._to_device.clear()
                    self._seen = generation
                    self._lock.notify_all()
                if self._stopped:
                    return
            self._step(link)

    def _step(self, link: int | None) -> None:
        sel = selectors.DefaultSelector()
        try:
            sel.register(self._wake_r, selectors.EVENT_READ)
            sel.register(self.master, selectors.EVENT_READ | (selectors.EVENT_WRITE if self._to_host else 0))
            if link is not None:
                events = (selectors.EVENT_READ if len(self._to_host) < RELAY_BUFFER else 0) | \
                         (selectors.EVENT_WRITE if self._to_device else 0)
                if events:
                    sel.register(link, events)
            for key, mask in sel.select(1.0):
                if key.fd == self._wake_r:
                    os.read(self._wake_r, 4096)
                    return  # the link changed: take the new state first
                self._move(key.fd, mask, link)
        finally:
            sel.close()

    def _move(self, fd: int, mask: int, link: int | None) -> None:
        try:
            if fd == self.master and mask & selectors.EVENT_READ:
                data = os.read(self.master, 4096)
                if link is not None:
                    self._to_device += data
            if fd == self.master and mask & selectors.EVENT_WRITE:
                del self._to_host[:os.write(self.master, self._to_host)]
            if fd == link and mask & selectors.EVENT_READ:
                data = os.read(link, 4096)
                if not data:  # QEMU went away; the next reset starts a new one
                    with self._lock:
                        if self._link_fd == link:
                            self._link_fd = None
                self._to_host += data
            if fd == link and mask & selectors.EVENT_WRITE:
                del self._to_device[:os.write(link, self._to_device)]
        except BlockingIOError:
            pass
        except OSError:  # a pty or socket error: drop what is pending rather than spin on it
            self._to_device.clear()


class VirtualBench:
    """The bench of one board (a ``backend: pyocd``, ``emulator: qemu`` profile): flash, core state, QEMU, pty."""

    def __init__(self, board: Board):
        require_qemu()
        self.board = board
        self.flash = bytearray([ERASED]) * board.flash.size
        self.sectors = flash_sectors(board.flash.origin, board.flash.size)
        self.state = RESET_HALTED
        self.unlocked = self.acr_zero = False  # the flash algorithm's Init: FLASH_CR unlocked, FLASH_ACR = 0
        self.boots = 0
        self.dir = Path(tempfile.mkdtemp(prefix="harness-bench-"))
        self.socket_path = str(self.dir / "control.sock")
        self.probe_id = f"virtual-{os.getpid()}"
        self.master, self._slave = os.openpty()
        tty.setraw(self._slave)  # no echo or newline translation before the harness opens the port
        os.set_blocking(self.master, False)
        self.pty = os.ttyname(self._slave)
        self.registration = registry_dir() / f"{Path(self.pty).name}.json"
        self.relay = Relay(self.master)
        self.proc = self.link = None
        self.ports: tuple[int, ...] = ()

    # ---- the board -------------------------------------------------------------------------------------------

    @property
    def on_pll(self) -> bool:
        """A core that booted its firmware runs on the PLL until reset (docs/notes/stm32-silicon.md)."""
        return self.state in (RUNNING, HALTED)

    def _flash_range(self, address: int, length: int) -> int:
        start = address - self.board.flash.origin
        if length < 0 or start < 0 or start + length > len(self.flash):
            raise BenchRequestError("fault", f"no flash at {address:#010x} ({length} bytes): the virtual bench "
                                             f"reads only flash [{self.board.flash.origin:#010x}, "
                                             f"{self.board.flash.end:#010x})")
        return start

    def read(self, address: int, length: int) -> bytes:
        start = self._flash_range(address, length)
        data = bytes(self.flash[start:start + length])
        if self.acr_zero and self.on_pll:  # 0 wait states at PLL speed: out of spec, the reads are garbage
            return bytes(b ^ 0xFF for b in data)
        return data

    def _check_flash_op(self, what: str) -> None:
        if self.state == RUNNING:
            raise BenchRequestError("flash", f"{what} while the core runs its firmware; halt it first")
        if not self.unlocked:
            raise BenchRequestError("flash", f"{what} with the flash locked: the flash algorithm was not initialised")

    def flash_init(self) -> None:
        self.unlocked = self.acr_zero = True

    def flash_uninit(self) -> None:
        self.unlocked = False  # the algorithm's UnInit locks FLASH_CR again; FLASH_ACR stays 0

    def erase_sector(self, address: int) -> None:
        self._check_flash_op("sector erase")
        size = dict(self.sectors).get(address)
        if size is None:
            raise BenchRequestError("flash", f"sector erase at {address:#010x}: not the start of a flash sector")
        start = address - self.board.flash.origin
        self.flash[start:start + size] = bytes([ERASED]) * size

    def erase_all(self) -> None:
        self._check_flash_op("chip erase")
        self.flash[:] = bytes([ERASED]) * len(self.flash)

    def program(self, address: int, data: bytes) -> None:
        self._check_flash_op("programming")
        start = self._flash_range(address, len(data))
        old = self.flash[start:start + len(data)]
        bad = next((i for i, (was, new) in enumerate(zip(old, data, strict=True)) if was & new != new), None)
        if bad is not None:  # flash programming only clears bits; anything else needs an erase first
            raise BenchRequestError("flash", f"programming {address + bad:#010x}: holds {old[bad]:#04x}, not "
                                             f"erased for {data[bad]:#04x}")
        self.flash[start:start + len(data)] = data

    def halt(self) -> None:
        if self.state == RUNNING:
            self.proc.send_signal(signal.SIGSTOP)
            self.state = HALTED

    def resume(self) -> None:
        if self.state == HALTED:
            self.proc.send_signal(signal.SIGCONT)
            self.state = RUNNING
        elif self.state == RESET_HALTED:
            self._boot()

    def reset_and_halt(self) -> None:
        self._stop_qemu()
        self.state, self.unlocked, self.acr_zero = RESET_HALTED, False, False

    def reset(self) -> None:
        self.reset_and_halt()
        self._boot()

    def _boot(self) -> None:
        if self.flash[:8] == bytes([ERASED]) * 8:  # no stack pointer or reset vector: the core locks up
            self.state = LOCKED_UP
            return
        image = self.dir / "flash.bin"
        image.write_bytes(self.flash)
        self._start_qemu(image)
        self.state, self.boots = RUNNING, self.boots + 1

    # ---- QEMU ------------------------------------------------------------------------------------------------

    def _start_qemu(self, image: Path) -> None:
        log = self.dir / "qemu.log"
        for attempt in range(3):
            (port,) = self.ports = claim_ports(1)
            # wait=on holds the machine until the relay is connected, so the banner is never lost
            cmd = [require_qemu(), *MACHINE, "-chardev",
                   f"socket,id=s0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on", "-serial", "chardev:s0",
                   "-device", f"loader,file={image},addr={self.board.flash.origin:#x}"]
            self.proc = spawn(cmd, log)  # from the main thread: killed by the kernel if the bench dies
            try:
                self.link = open_link(f"socket://127.0.0.1:{port}", self.proc, log, "QEMU (virtual bench)",
                                      self.board.timeouts.boot)
                os.set_blocking(self.link.fileno(), False)
                self.relay.attach(self.link.fileno())
                return
            except TargetError:
                busy = "in use" in log.read_text(errors="replace")
                self._stop_qemu()
                if not busy or attempt == 2:
                    raise

    def _stop_qemu(self) -> None:
        self.relay.detach()
        if self.link is not None:
            self.link.close()
            self.link = None
        stop(self.proc)  # SIGKILL: ends a halted (SIGSTOPped) QEMU too
        self.proc = None
        release_ports(self.ports)
        self.ports = ()

    # ---- the control channel ---------------------------------------------------------------------------------

    def status(self) -> dict:
        qemu = None if self.proc is None else ("running" if self.proc.poll() is None else
                                                f"exited: {log_tail(self.dir / 'qemu.log')[-200:]}")
        return {"state": self.state, "boots": self.boots, "qemu": qemu, "qemu_pid": self.proc and self.proc.pid,
                "pty": self.pty, "probe": self.probe_id,
                "flash_unlocked": self.unlocked, "acr_zero": self.acr_zero}

    def handle(self, request: dict) -> dict:
        """One control request → its reply (``ok`` false with ``kind`` and ``error`` when refused)."""
        try:
            op = request.get("op")
            if op == "status":
                return {"ok": True, **self.status()}
            if op == "read":
                data = self.read(int(request["address"]), int(request["length"]))
                return {"ok": True, "data": base64.b64encode(data).decode()}
            if op == "program":
                self.program(int(request["address"]), base64.b64decode(request["data"]))
            elif op == "erase_sector":
                self.erase_sector(int(request["address"]))
            elif op in ("flash_init", "flash_uninit", "erase_all", "halt", "resume", "reset_and_halt", "reset"):
                getattr(self, op)()
            else:
                raise BenchRequestError("request", f"unknown control request {op!r}")
            return {"ok": True, "state": self.state}
        except BenchRequestError as exc:
            return {"ok": False, "kind": exc.kind, "error": str(exc)}
        except (KeyError, TypeError, ValueError) as exc:
            return {"ok": False, "kind": "request", "error": f"malformed {request.get('op')} request: {exc!r}"}
        except TargetError as exc:  # QEMU did not start
            return {"ok": False, "kind": "target", "error": str(exc)}

    def _register(self) -> None:
        registry_dir().mkdir(mode=0o700, exist_ok=True)
        board = self.board
        entry = {"pty": self.pty, "probe": self.probe_id, "socket": self.socket_path, "pid": os.getpid(),
                 "board": board.name, "pyocd_target": board.settings["pyocd_target"],
                 "flash": {"origin": board.flash.origin, "size": board.flash.size},
                 "ram": [{"name": r.name, "origin": r.origin, "size": r.size} for r in board.ram]}
        partial = self.registration.with_suffix(".tmp")
        partial.write_text(json.dumps(entry))
        partial.replace(self.registration)  # readers never see half an entry

    def serve(self, ready=None) -> None:
        """Serve control clients until SIGTERM, SIGINT or SIGHUP; ``ready()`` runs once the bench is registered.
        Everything (QEMU, the registration, the pty, the work directory) is released on the way out."""
        listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        sel = selectors.DefaultSelector()
        clients: dict[socket.socket, bytearray] = {}
        previous = {sig: signal.signal(sig, _leave) for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP)}
        try:
            listener.bind(self.socket_path)
            listener.listen(8)
            sel.register(listener, selectors.EVENT_READ)
            self.relay.start()
            self._register()
            if ready is not None:
                ready()
            while True:
                for key, _ in sel.select():
                    if key.fileobj is listener:
                        client, _ = listener.accept()
                        clients[client] = bytearray()
                        sel.register(client, selectors.EVENT_READ)
                    elif not self._serve_client(key.fileobj, clients[key.fileobj]):
                        sel.unregister(key.fileobj)
                        key.fileobj.close()
                        del clients[key.fileobj]
        except _Leave:
            pass
        finally:
            for sig, handler in previous.items():
                signal.signal(sig, handler)
            for client in clients:
                client.close()
            sel.close()
            listener.close()
            self.close()

    def _serve_client(self, client: socket.socket, pending: bytearray) -> bool:
        try:
            data = client.recv(1 << 20)
        except OSError:
            return False
        if not data:
            return False
        pending += data
        while b"\n" in pending:
            line, _, rest = bytes(pending).partition(b"\n")
            pending[:] = rest
            try:
                request = json.loads(line)
                reply = self.handle(request) if isinstance(request, dict) else \
                    {"ok": False, "kind": "request", "error": "a request is a JSON object"}
            except ValueError as exc:
                reply = {"ok": False, "kind": "request", "error": f"not JSON: {exc}"}
            try:
                client.sendall(json.dumps(reply).encode() + b"\n")
            except OSError:
                return False
        return True

    def close(self) -> None:
        self.registration.unlink(missing_ok=True)  # first: nobody finds a bench that is going away
        self._stop_qemu()
        self.relay.stop()
        for fd in (self._slave, self.master):
            try:
                os.close(fd)
            except OSError:
                pass
        shutil.rmtree(self.dir, ignore_errors=True)


class _Leave(BaseException):
    """Raised by the signal handlers to leave ``serve`` through its cleanup."""


def _leave(signum, frame) -> None:
    raise _Leave()


def die_with_parent() -> None:
    """SIGTERM (so the cleanup runs) when the process that started the bench dies, even by SIGKILL."""
    import ctypes

    parent = os.getppid()
    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signal.SIGTERM)


__all__ = ["BenchRequestError", "VirtualBench", "die_with_parent"]
