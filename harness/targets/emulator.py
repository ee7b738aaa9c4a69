"""What the emulator backends (QEMU, Renode) share: a child process that dies with the harness, free local
ports, and the UART link over a local socket opened with pyserial's ``socket://``."""

from __future__ import annotations

import socket
import subprocess
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


def spawn(cmd: list[str], log: Path) -> subprocess.Popen:
    with open(log, "wb") as out:
        return subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
                                preexec_fn=_die_with_parent)


def stop(proc: subprocess.Popen | None) -> None:
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()


def open_link(url: str, proc: subprocess.Popen, log: Path, what: str, timeout: float) -> serial.SerialBase:
    """Open ``url`` (pyserial ``socket://``) once the emulator listens, keeping what already arrived: an emulator
    may queue the firmware's output until a client connects, and pyserial's ``open`` would flush the banner. The
    log's last lines if the emulator dies or never listens within ``timeout``."""
    deadline = time.monotonic() + timeout
    while True:
        link = serial.serial_for_url(url, timeout=1.0, do_not_open=True)
        link.reset_input_buffer = lambda: None  # only during open: the instance attribute shadows the method
        try:
            link.open()
            return link
        except serial.SerialException as exc:
            if proc.poll() is not None or time.monotonic() > deadline:
                tail = log.read_text(errors="replace").strip().splitlines()[-3:] if log.is_file() else []
                reason = " / ".join(tail) or ("it exited" if proc.poll() is not None else f"no socket in {timeout:g} s")
                raise TargetError(f"{what} did not start: {reason[-300:]}") from exc
            time.sleep(0.02)
        finally:
            del link.reset_input_buffer
