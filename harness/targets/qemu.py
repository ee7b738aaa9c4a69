"""QEMU's netduinoplus2 (STM32F405): a semihosted run to completion, or a session with USART1 on a unix socket.

``-icount shift=0`` makes TIM2 (prescaler 0) count instructions, deterministically. The socket is served with
``wait=on``, so the machine starts only once the host is connected and no early output is lost (qemu notes §3,
pitfall 3); QEMU is killed when the session closes, never left running (pitfall 9).
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DependencyError, TargetError, TargetTimeout

QEMU = "qemu-system-arm"
MACHINE = ["-M", "netduinoplus2", "-nographic", "-monitor", "none", "-icount", "shift=0"]
SEMIHOSTING = ["-semihosting-config", "enable=on,target=native"]


def require_qemu() -> str:
    if shutil.which(QEMU) is None:
        raise DependencyError(f"{QEMU} not found; install it with `apt-get install qemu-system-arm`")
    return QEMU


@dataclass(frozen=True)
class SemihostedRun:
    exit_code: int
    output: str


def run_semihosted(elf: Path, timeout: float = 300.0) -> SemihostedRun:
    """Boot ``elf`` with console and exit status via semihosting (no serial link)."""
    cmd = [require_qemu(), *MACHINE, "-serial", "null", *SEMIHOSTING, "-kernel", str(elf)]
    try:
        run = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, check=False)
    except subprocess.TimeoutExpired as exc:
        raise TargetTimeout(f"{elf.name} did not finish on QEMU within {timeout:.0f} s") from exc
    # QEMU 7.2 writes semihosting console output (SYS_WRITE0) to its stderr, next to its own messages.
    return SemihostedRun(run.returncode, run.stdout + run.stderr)


class QemuSerial:
    """One QEMU run of ``elf`` with USART1 on a unix socket: ``send``, ``read_exact``, ``read_line``; semihosting
    (console on QEMU's stderr, exit status) only if ``semihosting``. A context manager."""

    def __init__(self, elf: Path, semihosting: bool = False, timeout: float = 10.0):
        self.timeout = timeout
        # a short directory: unix socket paths are limited to 108 bytes
        self.dir = tempfile.mkdtemp(prefix="rpq")
        path = os.path.join(self.dir, "uart")
        cmd = [require_qemu(), *MACHINE, "-chardev", f"socket,id=s0,path={path},server=on,wait=on",
               "-serial", "chardev:s0", *(SEMIHOSTING if semihosting else []), "-kernel", str(elf)]
        self.proc = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.buf = b""
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.sock.connect(path)
                break
            except (FileNotFoundError, ConnectionRefusedError) as exc:
                if time.monotonic() > deadline or self.proc.poll() is not None:
                    err = self.proc.stderr.read().decode(errors="replace").strip() if self.proc.poll() is not None \
                        else "no socket within the timeout"
                    self.close()
                    raise TargetError(f"QEMU did not start {elf.name}: {err[-300:]}") from exc
                time.sleep(0.01)

    def __enter__(self) -> QemuSerial:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def send(self, data: bytes) -> None:
        try:
            self.sock.sendall(data)
        except OSError as exc:
            raise TargetError(f"QEMU closed the UART: {exc}") from exc

    def _fill(self, deadline: float) -> None:
        left = deadline - time.monotonic()
        try:
            if left <= 0:
                raise TimeoutError
            self.sock.settimeout(left)
            chunk = self.sock.recv(65536)
        except TimeoutError as exc:
            raise TargetTimeout(f"no answer from the firmware in time; last bytes {self.buf[-120:]!r}") from exc
        if not chunk:
            raise TargetError(f"QEMU closed the UART (the firmware stopped); last bytes {self.buf[-120:]!r}")
        self.buf += chunk

    def read_exact(self, n: int, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < n:
            self._fill(deadline)
        out, self.buf = self.buf[:n], self.buf[n:]
        return out

    def read_line(self, timeout: float | None = None) -> str:
        deadline = time.monotonic() + (timeout or self.timeout)
        while b"\n" not in self.buf:
            self._fill(deadline)
        line, self.buf = self.buf.split(b"\n", 1)
        return line.decode(errors="replace")

    def wait(self, timeout: float | None = None) -> tuple[int, str]:
        """QEMU's exit status and its stderr (where semihosting output goes)."""
        try:
            code = self.proc.wait(timeout or self.timeout)
        except subprocess.TimeoutExpired as exc:
            raise TargetTimeout("the firmware did not exit") from exc
        return code, self.proc.stderr.read().decode(errors="replace")

    def close(self) -> None:
        self.sock.close()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self.proc.stderr.close()
        shutil.rmtree(self.dir, ignore_errors=True)


def run_probe(source: str, workdir: Path, dsp: bool = True, timeout: float = 900.0) -> dict[str, int]:
    """Build and run a measurement program (its lines ``<label> <value>`` from firmware/runtime/rp_probe.h):
    label → value, hex for ``*_crc`` labels. For kernel tests and benchmarks."""
    from harness.build.cross import build_elf

    main_c = Path(workdir) / f"probe_{'dsp' if dsp else 'portable'}.c"
    main_c.write_text(source)
    run = run_semihosted(build_elf(main_c, main_c.with_suffix(".elf"), dsp=dsp), timeout=timeout)
    if run.exit_code != 0:
        raise TargetError(f"the probe program exited with {run.exit_code}: {run.output[-500:]}")
    pairs = (line.split() for line in run.output.strip().splitlines() if line.count(" ") == 1)
    return {k: int(v, 16) if k.endswith("_crc") else int(v) for k, v in pairs}
