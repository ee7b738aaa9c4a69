"""The board's serial port: open it exclusively, say who holds it when busy, and find the ST-LINK behind it.

Every failure is one line naming the port and the fix (docs/notes/pyocd-serial.md §3, §5). A port that is
missing, forbidden or busy is a ``TargetError`` (the board's state: unplugged, udev, another program); a port
that exists but is not an ST-LINK virtual COM port is a ``UsageError`` (the caller named the wrong device).
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import serial
import serial.tools.list_ports

from harness.errors import TargetError, UsageError

ST_VID = 0x0483
NAME_PROBE = "or name the board's probe: --board=NAME@PORT,probe=ID (ids from `pyocd list`)"
BUSY_ERRNOS = (errno.EAGAIN, errno.EBUSY)  # 11: our flock lost (pyserial exclusive=True), 16: the kernel's TIOCEXCL


def port_holders(path: str | os.PathLike) -> list[tuple[int, str]]:
    """Processes with ``path`` (or what it links to) open, as ``(pid, comm)``, sorted by pid; processes whose
    ``/proc/<pid>/fd`` we may not read are skipped (another user's; run as root to see them)."""
    target = os.path.realpath(path)
    holders = set()
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            fds = list((proc / "fd").iterdir())
            if any(_link(fd) == target for fd in fds):
                holders.add((int(proc.name), (proc / "comm").read_text().strip()))
        except OSError:  # gone meanwhile, or not ours to inspect
            continue
    return sorted(holders)


def _link(fd: Path) -> str | None:
    try:
        return os.readlink(fd)
    except OSError:
        return None


def describe_holders(path: str | os.PathLike) -> str:
    """``held by pid 4242 (minicom), pid 4250 (python3)``, or a hint when nobody visible holds it."""
    holders = port_holders(path)
    if not holders:
        return "held by a process this user cannot see (try `sudo fuser -v` on it)"
    return "held by " + ", ".join(f"pid {pid} ({comm})" for pid, comm in holders)


def open_port(path: str, baud: int, timeout: float | None) -> serial.Serial:
    """``path`` opened exclusively at ``baud`` (8N1) with read ``timeout`` seconds; one-line TargetError on failure."""
    try:
        return serial.Serial(path, baudrate=baud, timeout=timeout, exclusive=True)
    except serial.SerialException as exc:
        raise TargetError(_open_failure(path, exc)) from exc
    except (ValueError, OSError) as exc:  # a baud rate termios refuses, or an fd-level error pyserial passes on
        raise TargetError(f"cannot open serial port {path}: {exc}") from exc


def _open_failure(path: str, exc: serial.SerialException) -> str:
    code = exc.errno
    if code == errno.ENOENT:
        return f"no such port {path}; plugged in? `ls /dev/ttyACM*`"
    if code == errno.EACCES:
        return (f"permission denied on serial port {path}; add yourself to dialout: "
                f"`sudo usermod -aG dialout $USER` (then log in again)")
    if code in BUSY_ERRNOS:
        return f"serial port {path} is busy, {describe_holders(path)}; close that program and retry"
    return f"cannot open serial port {path}: {str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"


def usb_device_node(path: str | os.PathLike) -> str | None:
    """``/dev/bus/usb/BBB/DDD`` of the USB device behind tty ``path`` (its ST-LINK, for a VCP), or None."""
    name = os.path.basename(os.path.realpath(path))
    here = Path(os.path.realpath(f"/sys/class/tty/{name}/device"))
    while here != here.parent:
        try:
            bus, dev = int((here / "busnum").read_text()), int((here / "devnum").read_text())
            return f"/dev/bus/usb/{bus:03d}/{dev:03d}"
        except (OSError, ValueError):
            here = here.parent
    return None


def probe_serial_for_port(path: str) -> str:
    """The USB serial number of the ST-LINK whose virtual COM port is ``path`` (= its pyOCD unique id)."""
    real = os.path.realpath(path)
    if not os.path.exists(real):
        raise TargetError(f"no such port {path}; plugged in? `ls /dev/ttyACM*`")
    from harness.targets.virtual_probe import registration_for_port  # a virtual bench's pty leads to its probe

    if (bench := registration_for_port(path)) is not None:
        return bench["probe"]
    ports = {info.device: info for info in serial.tools.list_ports.comports()}
    info = ports.get(real) or ports.get(path)
    if info is None or info.vid is None:
        raise UsageError(f"{path} is not a USB serial device, so no debug probe can be matched to it; "
                         f"pass the ST-LINK's virtual COM port (`ls -l /dev/serial/by-id/`), {NAME_PROBE}")
    if info.vid != ST_VID:
        raise UsageError(f"{path} is not an ST-LINK virtual COM port (USB {info.vid:04x}:{info.pid or 0:04x}, "
                         f"{info.product or info.description}); pass the board's ST-LINK port "
                         f"(`ls -l /dev/serial/by-id/ | grep STM`), {NAME_PROBE}")
    if not info.serial_number:
        raise UsageError(f"{path} (USB {info.vid:04x}:{info.pid or 0:04x}) reports no USB serial number, so its "
                         f"debug probe cannot be identified; {NAME_PROBE}")
    return info.serial_number


__all__ = ["ST_VID", "describe_holders", "open_port", "port_holders", "probe_serial_for_port", "usb_device_node"]
