"""What the emulator backends (QEMU, Renode) share: a child process that dies with the harness, free local
ports, and the UART link over a local socket opened with pyserial's ``socket://``."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import serial

from harness.errors import TargetError

DEFAULT_MONITOR_PORT = 1234  # Renode 1.16.1's default Monitor port: parallel instances would collide on it

_claimed: set[int] = set()
_claim_lock = threading.Lock()


def claim_ports(n: int = 2) -> tuple[int, ...]:
    """``n`` distinct TCP ports nobody listens on now, none held by another target of this process and none
    1234. Another process can still win the race for one; the caller retries with fresh ports."""
    with _claim_lock:
        held, ports = [], []
        try:
            for _ in range(64 * n):
                if len(ports) == n:
                    break
                s = socket.socket()
                s.bind(("127.0.0.1", 0))
                held.append(s)  # held open until all are chosen, so the kernel never hands out one twice
                port = s.getsockname()[1]
                if port not in _claimed and port != DEFAULT_MONITOR_PORT:
                    ports.append(port)
        finally:
            for s in held:
                s.close()
        if len(ports) < n:
            raise TargetError(f"could not find {n} free TCP ports on 127.0.0.1")
        _claimed.update(ports)
        return tuple(ports)


def release_ports(ports) -> None:
    with _claim_lock:
        _claimed.difference_update(ports)


def _die_with_parent() -> None:
    """Runs in the child before exec: the kernel kills the emulator if the harness dies, even by SIGKILL."""
    import ctypes
    import signal

    ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(cmd: list[str], log: Path, stdin: int = subprocess.DEVNULL) -> subprocess.Popen:
    """``cmd``, killed by the kernel when the harness dies. That reaches only this process: an emulator that a
    wrapper script starts (and does not exec) needs ``ProcessGroup``."""
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdin=stdin, stdout=out, stderr=subprocess.STDOUT, preexec_fn=_die_with_parent)


# The watchdog: reads the group id, then waits for EOF on its stdin (the harness closed the pipe or died, even by
# SIGKILL) and kills the whole group. It leaves by itself once the group is empty, so it never outlives it by more
# than half a second and never signals a recycled group id.
WATCHDOG = """
import os, select, signal
line = b""
while not line.endswith(b"\\n"):
    chunk = os.read(0, 64)
    if not chunk:
        raise SystemExit(0)
    line += chunk
pgid = int(line)
def alive():
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    return True
while alive():
    if select.select([0], [], [], 0.5)[0] and not os.read(0, 64):
        try:
            os.killpg(pgid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        break
"""


class ProcessGroup:
    """``cmd`` in a session of its own, so its process group holds every process it starts (Renode's .deb, .rpm and
    linux-dotnet ``renode`` is a shell script that runs dotnet as its child), plus a watchdog process that kills the
    group once the harness closes a pipe to it or dies. ``close`` ends the group and the watchdog."""

    def __init__(self, cmd: list[str], log: Path):
        read_end, self._pipe = os.pipe()  # both non-inheritable: no other child can hold the write end open
        try:
            self.watchdog = subprocess.Popen([sys.executable, "-I", "-c", WATCHDOG], stdin=read_end,
                                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                             start_new_session=True)  # no terminal signal reaches it
        except OSError:
            os.close(self._pipe)
            raise
        finally:
            os.close(read_end)
        try:
            with open(log, "wb") as out:
                self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                             start_new_session=True, preexec_fn=_die_with_parent)
        except OSError:
            self._release()
            raise
        os.write(self._pipe, b"%d\n" % self.proc.pid)  # the session leader's pid is the group id

    @property
    def pgid(self) -> int:
        return self.proc.pid

    def alive(self) -> bool:
        """Whether any process of the group is left (the spawned one is reaped here, so a zombie does not count)."""
        self.proc.poll()
        try:
            os.killpg(self.pgid, 0)
        except ProcessLookupError:
            return False
        except PermissionError:
            pass
        return True

    def signal(self, sig: int) -> None:
        if self.alive():
            try:
                os.killpg(self.pgid, sig)
            except ProcessLookupError:
                pass

    def wait(self, timeout: float) -> bool:
        """True once the group is empty, False if processes are left after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while self.alive():
            if time.monotonic() > deadline:
                return False
            time.sleep(0.02)
        return True

    def close(self, grace: float = 5.0) -> None:
        """SIGKILL to whatever is left of the group, then the watchdog is released."""
        try:
            self.signal(signal.SIGKILL)
            self.wait(grace)
            if self.proc.poll() is None:
                self.proc.wait(grace)
        finally:
            self._release()

    def _release(self) -> None:
        if self._pipe >= 0:
            os.close(self._pipe)  # EOF: the watchdog finds the group empty (or empties it) and leaves
            self._pipe = -1
        try:
            self.watchdog.wait(2.0)
        except subprocess.TimeoutExpired:
            self.watchdog.kill()
            self.watchdog.wait()


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def try_open_link(url: str) -> serial.SerialBase | None:
    """``url`` (pyserial ``socket://``) opened, keeping what already arrived: an emulator may queue the firmware's
    output until a client connects, and pyserial's ``open`` would flush the banner. None if nothing listens yet."""
    link = serial.serial_for_url(url, timeout=1.0, do_not_open=True)
    link.reset_input_buffer = lambda: None  # only during open: the instance attribute shadows the method
    try:
        link.open()
        return link
    except serial.SerialException:
        return None
    finally:
        del link.reset_input_buffer


def log_tail(log: Path, lines: int = 3) -> str:
    return " / ".join(log.read_text(errors="replace").strip().splitlines()[-lines:]) if log.is_file() else ""


def open_link(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float) -> serial.SerialBase:
    """``try_open_link`` once the emulator listens; the log's last lines if the emulator dies or never listens
    within ``timeout``."""
    deadline = time.monotonic() + timeout
    while (link := try_open_link(url)) is None:
        if proc.poll() is not None or time.monotonic() > deadline:
            reason = log_tail(log) or ("it exited" if proc.poll() is not None else f"no socket in {timeout:g} s")
            raise TargetError(f"{what} did not start: {reason[-300:]}")
        time.sleep(0.02)
    return link
