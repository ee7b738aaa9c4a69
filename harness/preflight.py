"""Checks made before any build, boot or upload: what a command will need later (the emulator's program, a board's
serial port, a writable output, a usable history), so that a mistake costs no build time and is one line naming
the thing and the fix.

    preflight(choice, target_options)     the tool or port a ``Dut`` of ``choice`` needs (before build_firmware)
    check_picture_output(path)            an image OpenCV can write there (``-o out.png``)
    check_output_file(path, suffixes)     a file of that kind can be written there (``report -o r.html``)
    unwritable(path)                      why a file could not be made at ``path``, or None

Nothing here creates anything that outlives the check.
"""

from __future__ import annotations

import os
import stat
import tempfile
from pathlib import Path

from harness.errors import TargetError, UsageError

MAX_BAUD = 12_000_000  # the STM32F4 USARTs top out at 11.25 Mbit/s (90 MHz APB2, oversampling by 8)


def upload_codec(text: str) -> str:
    """argparse type of ``--codec``: how images cross the link (docs/protocol.md, "Coded upload")."""
    import argparse

    from harness.protocol.session import CODECS

    if text not in CODECS:
        raise argparse.ArgumentTypeError(f"{text!r} is not a codec (one of: {', '.join(CODECS)})")
    return text


def baud_rate(text: str) -> int:
    """argparse type of ``--baud``: a whole number of bits per second the UART can be set to."""
    import argparse

    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number of bits per second (e.g. 115200)") \
            from None
    if not 0 < value <= MAX_BAUD:
        raise argparse.ArgumentTypeError(f"{value} is not a baud rate (1 to {MAX_BAUD:,}; e.g. 115200)")
    return value


def unwritable(path: str | os.PathLike) -> str | None:
    """Why a file could not be written at ``path`` (its folders made as needed), or None. Found by trying, in the
    nearest existing folder, with a temporary file removed at once: permission bits do not tell root, read-only
    mounts or /proc apart."""
    path = Path(path)
    if path.is_dir():
        return f"{path} is a folder"
    if path.exists():
        try:
            open(path, "r+b").close()  # opened for writing, nothing written
        except OSError as exc:
            return f"{path} is not writable ({exc.strerror})"
    folder = path.parent
    while not folder.exists() and folder != folder.parent:
        folder = folder.parent
    if not folder.is_dir():
        return f"{folder} is a file, not a folder"
    try:
        tempfile.TemporaryFile(dir=folder).close()
    except OSError as exc:
        return f"the folder {folder} is not writable ({exc.strerror})"
    return None


def check_output_file(path: str, suffixes: tuple[str, ...], option: str = "-o") -> None:
    """UsageError unless ``path`` ends in one of ``suffixes`` and can be written."""
    if not str(path).strip():
        raise UsageError(f"{option} is empty: give a file name ending in {' or '.join(suffixes)}")
    if suffixes and Path(path).suffix.lower() not in suffixes:
        raise UsageError(f"{option} {path}: give a file name ending in {' or '.join(suffixes)}")
    if (why := unwritable(path)) is not None:
        raise UsageError(f"{option} {path} cannot be written: {why}; choose another path")


def check_picture_output(path: str, option: str = "-o") -> None:
    """UsageError unless OpenCV can write an image of ``path``'s format there."""
    import cv2

    if Path(path).is_dir():
        raise UsageError(f"{option} {path} is a folder: give a picture's name, e.g. {Path(path) / 'detections.png'}")
    if not cv2.haveImageWriter(str(path)):
        raise UsageError(f"{option} {path}: OpenCV writes no such picture format; use a .png or .jpg name")
    check_output_file(path, (), option)


def check_port(port: str) -> None:
    """A real board's serial port: there, a terminal device, and ours to open. Opened without becoming the
    controlling terminal, without waiting for carrier, and closed at once."""
    import errno

    try:
        mode = os.stat(port).st_mode
    except FileNotFoundError:
        raise TargetError(f"no such port {port}; plugged in? `ls /dev/ttyACM*`") from None
    except OSError as exc:
        raise TargetError(f"cannot look at serial port {port} ({exc.strerror}); check the path") from exc
    if not stat.S_ISCHR(mode):
        kind = "folder" if stat.S_ISDIR(mode) else "regular file" if stat.S_ISREG(mode) else "not a device"
        raise UsageError(f"{port} is not a serial port (a {kind}); pass the board's tty, e.g. "
                         "--board=NAME@/dev/ttyACM0 (`ls /dev/ttyACM* /dev/ttyUSB*`)")
    try:
        fd = os.open(port, os.O_RDWR | os.O_NOCTTY | os.O_NONBLOCK)
    except OSError as exc:
        if exc.errno == errno.EACCES:
            raise TargetError(f"permission denied on serial port {port}; add yourself to dialout: "
                              "`sudo usermod -aG dialout $USER` (then log in again)") from exc
        if exc.errno == errno.EBUSY:
            from harness.targets.serial_port import describe_holders

            raise TargetError(f"serial port {port} is busy, {describe_holders(port)}; close that program and "
                              "retry") from exc
        raise TargetError(f"cannot open serial port {port} ({exc.strerror}); plugged in? `ls /dev/ttyACM*`") \
            from exc
    try:
        terminal = os.isatty(fd)
    finally:
        os.close(fd)
    if not terminal:
        raise UsageError(f"{port} is a device but not a serial port; pass the board's tty, e.g. "
                         "--board=NAME@/dev/ttyACM0 (`ls /dev/ttyACM* /dev/ttyUSB*`)")


def preflight(choice, target_options: dict | None = None) -> None:
    """Everything ``choice`` (a ``harness.dut.BoardChoice``) needs that can be checked before its firmware is built:
    QEMU, Renode or a C compiler on PATH, a real board's serial port and CMSIS pack. One-line HarnessError otherwise."""
    choice.board.spec.target_class().preflight(choice, target_options or {})
