"""harness/targets/serial_port.py on real pseudo-terminals (no board here): exclusive open, who holds a busy port,
one-line errors, and the port → ST-LINK serial mapping through a real ``ListPortInfo``.

Only ``serial.tools.list_ports.comports`` is replaced: it reads sysfs, where a pty has no USB parent, so the test
hands it the entry an ST-LINK VCP would produce (vid 0x0483, its USB serial) for the pty.
"""

import errno
import os

import pytest
import serial
import serial.tools.list_ports
from serial.tools.list_ports_linux import SysFS

from harness.errors import TargetError, UsageError
from harness.targets import serial_port
from harness.targets.serial_port import open_port, port_holders, probe_serial_for_port, usb_device_node

STLINK_SERIAL = "0671FF3833554B3043164817"


@pytest.fixture
def pty():
    """A real pseudo-terminal: (path of its slave side, master fd the "board" writes to)."""
    master, slave = os.openpty()
    path = os.ttyname(slave)
    os.close(slave)  # so only what the test opens holds the slave side
    yield path, master
    os.close(master)


def _comports_with(monkeypatch, path: str, vid: int | None, serial_number: str | None, pid: int = 0x374B):
    info = SysFS(path)  # the real ListPortInfo subclass comports() returns on Linux
    info.vid, info.pid, info.serial_number, info.product = vid, pid, serial_number, "STM32 STLink"
    monkeypatch.setattr(serial.tools.list_ports, "comports", lambda *a, **k: [info])


def test_open_port_opens_the_pty_and_moves_bytes(pty):
    path, master = pty
    with open_port(path, 115200, timeout=0.5) as port:
        assert port.is_open and port.baudrate == 115200
        os.write(master, b"banner\n")
        assert port.read_until(b"\n") == b"banner\n"


def test_a_second_exclusive_open_names_this_process(pty):
    path, _ = pty
    with open_port(path, 115200, timeout=0.1):
        with pytest.raises(TargetError) as info:
            open_port(path, 115200, timeout=0.1)
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith(f"serial port {path} is busy, held by ")
    assert f"pid {os.getpid()} (" in message and message.endswith("close that program and retry")


def test_port_holders_follows_symlinks_and_lists_each_process_once(pty, tmp_path):
    path, _ = pty
    link = tmp_path / "ttyACM-by-id"
    link.symlink_to(path)
    assert port_holders(link) == []
    with open_port(path, 115200, 0.1), open(path, "rb", buffering=0):  # two descriptors, one process
        holders = port_holders(link)
    assert [pid for pid, _ in holders] == [os.getpid()]
    assert holders[0][1] == open(f"/proc/{os.getpid()}/comm").read().strip()


def test_missing_port_says_plug_it_in(tmp_path):
    path = str(tmp_path / "ttyACM0")
    with pytest.raises(TargetError, match=r"^no such port .*/ttyACM0; plugged in\? `ls /dev/ttyACM\*`$"):
        open_port(path, 115200, 0.1)


def test_a_file_that_is_not_a_tty_is_one_line(tmp_path):
    path = tmp_path / "not-a-tty"
    path.write_text("")
    with pytest.raises(TargetError) as info:
        open_port(str(path), 115200, 0.1)
    assert str(info.value).startswith(f"cannot open serial port {path}: ") and "\n" not in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root opens a port whatever its mode")
def test_permission_denied_says_join_dialout(pty):
    path, _ = pty
    mode = os.stat(path).st_mode
    os.chmod(path, 0)
    try:
        with pytest.raises(TargetError, match=r"sudo usermod -aG dialout \$USER"):
            open_port(path, 115200, 0.1)
    finally:
        os.chmod(path, mode)


def test_the_errno_pyserial_reports_picks_the_message():
    # The errnos pyserial puts on SerialException (its open() passes the OSError's on); root cannot provoke EACCES.
    path = "/dev/ttyACM0"
    denied = serial_port._open_failure(path, serial.SerialException(errno.EACCES, "could not open port"))
    assert denied == (f"permission denied on serial port {path}; add yourself to dialout: "
                      f"`sudo usermod -aG dialout $USER` (then log in again)")
    busy = serial_port._open_failure(path, serial.SerialException(errno.EBUSY, "Device or resource busy"))
    assert busy.startswith(f"serial port {path} is busy, ")


def test_probe_serial_is_the_usb_serial_of_the_st_link_port(pty, monkeypatch, tmp_path):
    path, _ = pty
    _comports_with(monkeypatch, path, 0x0483, STLINK_SERIAL)
    link = tmp_path / "usb-STMicroelectronics_STM32_STLink_0671FF-if02"
    link.symlink_to(path)
    assert probe_serial_for_port(path) == STLINK_SERIAL
    assert probe_serial_for_port(str(link)) == STLINK_SERIAL  # /dev/serial/by-id/… resolves to the same device


@pytest.mark.parametrize("vid, serial_number, expected", [
    (0x0403, "A50285BI", r"is not an ST-LINK virtual COM port \(USB 0403:374b, STM32 STLink\)"),
    (0x0483, None, r"\(USB 0483:374b\) reports no USB serial number"),
    (0x0483, "", r"\(USB 0483:374b\) reports no USB serial number"),
    (None, None, r"is not a USB serial device"),
])
def test_a_port_that_is_not_an_st_link_vcp_is_one_usage_error(pty, monkeypatch, vid, serial_number, expected):
    path, _ = pty
    _comports_with(monkeypatch, path, vid, serial_number)
    with pytest.raises(UsageError, match=f"^{path} {expected}") as info:
        probe_serial_for_port(path)
    assert "\n" not in str(info.value)


def test_a_pty_is_not_listed_by_the_real_comports(pty):
    path, _ = pty  # the real comports(): a pty has no sysfs device, so no probe can be matched to it
    with pytest.raises(UsageError, match="is not a USB serial device"):
        probe_serial_for_port(path)


def test_probe_serial_for_a_missing_port_says_plug_it_in(tmp_path):
    with pytest.raises(TargetError, match="plugged in"):
        probe_serial_for_port(str(tmp_path / "ttyACM7"))


def test_a_pty_has_no_usb_device_node(pty):
    assert usb_device_node(pty[0]) is None
