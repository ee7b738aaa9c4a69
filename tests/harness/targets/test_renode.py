"""The Renode backend: the generated script and command line, the platform file, port selection, the install
message, reading the Monitor, the process handling against a stand-in ``renode`` (``renode_standin.py``: what
Renode 1.16.1's source says its command line, Monitor and socket UART do, errors included), the firmware built for
``renode-stm32f4``, and, with a real Renode 1.16.1 on PATH, the boot banner over the socket UART."""

import dataclasses
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from harness.boards import ROOT, Timeouts, board
from harness.errors import TargetError, UsageError
from harness.targets import renode
from harness.targets.emulator import claim_ports, release_ports
from harness.targets.renode import (
    INSTALL,
    RenodeTarget,
    check_version,
    monitor_reply,
    render_resc,
    renode_command,
    require_renode,
    script_failure,
    strip_telnet,
)

BOARD = "renode-stm32f4"
REPL = ROOT / "Renode" / "stm32f4-harness.repl"
NO_TOOLCHAIN = pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                                  reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi "
                                         "libnewlib-arm-none-eabi")

# ---- script and command line ------------------------------------------------------------------------------------


def test_resc_loads_the_platform_and_elf_and_bridges_the_uart_raw():
    lines = render_resc(Path("/r/f4.repl"), Path("/b/fw.elf"), "usart1", 40001).splitlines()
    body = [ln.strip() for ln in lines if ln.strip() and not ln.startswith("#")]
    assert body == ['mach create "harness"',
                    "machine LoadPlatformDescription @/r/f4.repl",
                    "macro reset", '"""', "sysbus LoadELF @/b/fw.elf", "cpu VectorTableOffset 0x08000000", '"""',
                    "runMacro $reset",
                    'emulation CreateServerSocketTerminal 40001 "uart" false',   # telnet off: 8-bit clean
                    "connector Connect sysbus.usart1 uart",
                    "emulation SetGlobalAdvanceImmediately true",
                    "start"]


@pytest.mark.parametrize("platform, elf", [("rel.repl", "/b/fw.elf"), ("/r/f4.repl", "/my dir/fw.elf"),
                                           ('/r/"x".repl', "/b/fw.elf")])
def test_resc_refuses_paths_the_monitor_cannot_parse(platform, elf):
    with pytest.raises(UsageError, match="absolute without spaces"):
        render_resc(Path(platform), Path(elf), "usart1", 40001)


@pytest.mark.parametrize("uart, port", [("USART 1", 40001), ("usart1", 1234), ("usart1", 0)])
def test_resc_refuses_bad_uart_names_and_ports(uart, port):
    with pytest.raises(UsageError):
        render_resc(Path("/r/f4.repl"), Path("/b/fw.elf"), uart, port)


def test_command_is_headless_with_its_own_monitor_port_and_pid_file():
    assert renode_command(Path("/t/run.resc"), 40002, Path("/t/renode.pid")) == [
        "renode", "--disable-gui", "--plain", "-P", "40002", "--pid-file", "/t/renode.pid", "/t/run.resc"]
    with pytest.raises(UsageError, match="1234"):
        renode_command(Path("/t/run.resc"), 1234, Path("/t/renode.pid"))


# ---- the platform file ------------------------------------------------------------------------------------------


def parse_repl(text: str) -> dict[str, dict[str, str]]:
    """Loosely: entry name → its header (``_``: type and address) and ``attribute: value`` lines."""
    entries, current = {}, None
    for line in text.splitlines():
        line = line.split("//", 1)[0].rstrip()
        if not line or line.startswith("using"):
            continue
        if not line[0].isspace():
            name, _, header = line.partition(":")
            current = entries.setdefault(name.strip(), {"_": header.strip()})
        else:
            key, _, value = line.strip().partition(":")
            current[key.strip()] = value.strip()
    return entries


def test_repl_is_the_f439_the_harness_measures():
    text = REPL.read_text()
    assert text.splitlines()[[ln.startswith("using") for ln in text.splitlines()].index(True)] == \
        'using "platforms/cpus/stm32f4.repl"'
    repl, profile = parse_repl(text), board(BOARD)
    assert int(repl["sram"]["size"], 16) == 192 * 1024 == profile.ram[0].size
    assert repl["ccm"]["_"] == "Memory.MappedMemory @ sysbus 0x10000000" and int(repl["ccm"]["size"], 16) == 0x10000
    assert repl["dwt"]["_"] == "Miscellaneous.DWT @ sysbus 0xE0001000"
    uart = str(profile.uart.get("name", "usart1")).lower()
    assert int(repl[uart]["frequency"]) == profile.clock_hz // 2  # PCLK2: APB2 = HCLK/2 (firmware/runtime/clock.c)


def test_repl_makes_cyccnt_count_every_instruction():
    """Renode reports CPU progress in steps of MIPS/gcd(MIPS, 1000) instructions (1 ns time resolution): only a
    MIPS dividing 1000 makes the step one instruction, and only DWT at MIPS x 10^6 makes a tick one instruction."""
    repl = parse_repl(REPL.read_text())
    mips = int(repl["cpu"]["PerformanceInMips"])
    assert 1000 % mips == 0
    assert int(repl["dwt"]["frequency"]) == mips * 10**6
    assert int(repl["nvic"]["systickFrequency"]) == mips * 10**6  # SysTick counts the core clock, like CYCCNT


# ---- ports, version, install message ----------------------------------------------------------------------------


def test_two_targets_get_different_ports_and_never_1234():
    a, b = RenodeTarget(board(BOARD)), RenodeTarget(board(BOARD))
    try:
        ports_a, ports_b = a.allocate_ports(), b.allocate_ports()
        assert len(set(ports_a) | set(ports_b)) == 4 and 1234 not in ports_a + ports_b
    finally:
        a.close()
        b.close()
    again = claim_ports(2)  # released on close: the pool does not leak
    release_ports(again)


def test_missing_renode_is_one_line_saying_how_to_install(tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path))
    with pytest.raises(UsageError) as err:
        require_renode()
    message = str(err.value)
    assert "\n" not in message and message.startswith("renode not found on PATH")
    for needle in ("1.16.1", "renode-1.16.1.linux-portable-dotnet.tar.gz",
                   "https://github.com/renode/renode/releases/tag/v1.16.1", "--board=qemu-stm32f405"):
        assert needle in message


def test_version_check():
    check_version("1.16.1")
    with pytest.raises(UsageError, match="older than 1.16"):
        check_version("1.15.3")
    with pytest.warns(RuntimeWarning, match="newer"):
        check_version("1.17.0")
    with pytest.warns(RuntimeWarning, match="could not read"):
        check_version("?")


# ---- the telnet Monitor's output ----------------------------------------------------------------------------------


def test_telnet_negotiation_and_colours_are_stripped():
    raw = bytes([255, 251, 1, 255, 251, 3, 255, 250, 31, 0, 80, 255, 240]) + b"\x1b[32mok\x1b[0m\xff\xff!" + b"\xff"
    assert strip_telnet(raw) == b"ok\xff!"


def test_a_failing_script_line_is_named_with_renodes_words(tmp_path):
    resc = tmp_path / "run.resc"
    resc.write_text(render_resc(Path("/r/f4.repl"), Path("/b/fw.elf"), "usart1", 40001))
    missing = ("Renode v1.16.1\r\n\r\n(monitor) i @" + str(resc) + "\r\n"
               "There was an error executing command 'machine LoadPlatformDescription @/r/f4.repl'\r\n"
               "Could not find file '/r/f4.repl'.\r\n(harness) ")
    assert script_failure(missing, resc) == (
        f"Renode could not run {resc} line 3: 'machine LoadPlatformDescription @/r/f4.repl': "
        "Could not find file '/r/f4.repl'.")
    in_macro = ("(monitor) i @x\r\nThere was an error executing command 'sysbus LoadELF @/b/fw.elf'\r\n"
                "Cannot load ELF on an unpaused machine.\r\n"
                "There was an error executing command 'runMacro $reset'\r\n"
                "Parsing line '    sysbus LoadELF @/b/fw.elf' failed.\r\n(harness) ")
    assert script_failure(in_macro, resc) == (
        f"Renode could not run {resc} line 6: 'sysbus LoadELF @/b/fw.elf': Cannot load ELF on an unpaused machine.")
    unknown = "(monitor) i @x\r\nNo such command or device: connector\r\n(harness) "
    assert script_failure(unknown, resc) == (
        f"Renode could not run {resc} line 11: 'connector Connect sysbus.usart1 uart': "
        "No such command or device: connector")
    assert script_failure("(monitor) i @x\r\nStarting emulation...\r\n(harness) ", resc) is None


def test_a_reply_is_complete_once_the_prompt_follows_the_echo():
    assert monitor_reply("(harness) ", "machine Reset") is None
    assert monitor_reply("machine Reset\r\n", "machine Reset") is None
    assert monitor_reply("(harness) machine Reset\r\n(harness) ", "machine Reset") == ""
    assert monitor_reply("pause\r\nNo such command or device: pause\r\n(monitor) ", "pause") == \
        "No such command or device: pause"


# ---- process handling, against a stand-in renode ----------------------------------------------------------------

STANDIN = Path(__file__).resolve().parent / "renode_standin.py"


def install_renode(bin_dir: Path, wrapper: bool) -> None:
    """``renode`` on PATH running the stand-in: exec'd, like the portable single binary, or as the child of a shell
    script, like the .deb/.rpm/linux-dotnet wrapper (tools/packaging/linux/renode-dotnet-template in renode)."""
    bin_dir.mkdir(exist_ok=True)
    exe = bin_dir / "renode"
    if wrapper:
        exe.write_text(f'#!/bin/sh\n"{sys.executable}" "{STANDIN}" "$@"\nexit $?\n')
    else:
        exe.write_text(f'#!/bin/sh\nexec "{sys.executable}" "{STANDIN}" "$@"\n')
    exe.chmod(0o755)


@pytest.fixture(params=["portable", "wrapper"])
def fake_renode(request, tmp_path, monkeypatch):
    install_renode(tmp_path / "bin", request.param == "wrapper")
    monkeypatch.setenv("PATH", f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}")
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    return elf


def quick_board(**changes):
    """renode-stm32f4 with a 20 s boot timeout (a start-up error must be reported well before it)."""
    return dataclasses.replace(board(BOARD), timeouts=Timeouts(boot=20.0, inference=60.0), **changes)


def read_until(link, marker: bytes, timeout: float = 10.0) -> bytes:
    data, deadline = b"", time.monotonic() + timeout
    while marker not in data and time.monotonic() < deadline:
        data += link.read(1)
    return data


def running(pid: int) -> bool:
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except (OSError, IndexError):
        return False


def listening(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1.0).close()
        return True
    except OSError:
        return False


def test_load_link_reset_close(fake_renode):
    target = RenodeTarget(board(BOARD))
    with target:
        target.load(fake_renode, "abc")
        resc = (target.dir / "run.resc").read_text()
        assert f"@{target.dir}/firmware.elf" in resc and f"@{target.dir}/stm32f4-harness.repl" in resc
        assert read_until(target.link, b"|BOOT 1|").endswith(b"|BOOT 1|")
        target.link.write(bytes(range(256)))  # every byte value crosses untouched (no telnet on the UART)
        assert read_until(target.link, b"\xfe\xff") == bytes(range(256))
        pid = int(target.pid_file.read_text())
        target.link.write(b"junk")            # echoed: stale input the reset must flush
        time.sleep(0.2)
        target.reset()                        # through the Monitor: same process
        assert int(target.pid_file.read_text()) == pid
        after = read_until(target.link, b"|BOOT 2|")
        assert after.startswith(b"stale") and after.endswith(b"stale|BOOT 2|")
        assert target.describe() == "Renode 1.16.1 Renode/stm32f4-harness.repl"
    assert not running(pid) and not target.dir.exists()
    target.close()  # twice is fine


def test_reset_restarts_renode_when_the_monitor_fails(fake_renode, monkeypatch):
    monkeypatch.setenv("FAKE_RENODE", "no-reset")
    with RenodeTarget(board(BOARD)) as target:
        target.load(fake_renode)
        read_until(target.link, b"|BOOT 1|")
        pid = int(target.pid_file.read_text())
        target.reset()
        assert read_until(target.link, b"|BOOT 1|").endswith(b"|BOOT 1|")  # a fresh process booted
        assert int(target.pid_file.read_text()) != pid and not running(pid)


def test_renode_that_ignores_quit_and_sigterm_is_killed(fake_renode, monkeypatch):
    monkeypatch.setenv("FAKE_RENODE", "stubborn")
    target = RenodeTarget(board(BOARD))
    target.QUIT_WAIT = target.TERM_WAIT = 0.5
    target.load(fake_renode)
    pid = int(target.pid_file.read_text())
    started = time.monotonic()
    target.close()
    assert not running(pid) and time.monotonic() - started < 8


def test_a_failed_start_quotes_renodes_log(fake_renode, monkeypatch):
    monkeypatch.setenv("FAKE_RENODE", "crash")
    with RenodeTarget(board(BOARD)) as target, pytest.raises(TargetError, match="boom"):
        target.load(fake_renode)


def test_a_script_error_is_reported_at_once_with_its_line(fake_renode, monkeypatch):
    """Renode prints it only on the Monitor and then opens no UART socket: without reading the Monitor the
    harness would wait the whole boot timeout and quote unrelated log lines."""
    real = renode.render_resc
    monkeypatch.setattr(renode, "render_resc", lambda platform, *rest: real(Path("/nonexistent/f4.repl"), *rest))
    started = time.monotonic()
    with RenodeTarget(quick_board()) as target, pytest.raises(TargetError) as err:
        target.load(fake_renode)
    assert str(err.value) == (f"Renode could not run {target.dir}/run.resc line 3: 'machine LoadPlatformDescription "
                              "@/nonexistent/f4.repl': Could not find file '/nonexistent/f4.repl'.")
    assert time.monotonic() - started < 5


def test_a_script_error_after_the_uart_socket_opened_is_reported_too(fake_renode):
    """The UART socket is up but `connector Connect` failed: the firmware would never run."""
    target = RenodeTarget(quick_board(uart={"name": "usart6"}))  # the F4 platform has no usart6
    with target, pytest.raises(TargetError) as err:
        target.load(fake_renode)
    assert str(err.value) == (f"Renode could not run {target.dir}/run.resc line 11: 'connector Connect "
                              "sysbus.usart6 uart': Parameters did not match the signature")


def test_the_standin_rejects_what_renodes_monitor_rejects(fake_renode, tmp_path):
    with RenodeTarget(board(BOARD)) as target:
        target.load(fake_renode)
        monitor = target.monitor
        for command, words in [("nonsense 1", "No such command or device: nonsense"),
                               ("sysbus.usart6 WriteChar 0x41", "No such command or device: sysbus.usart6"),
                               (f"sysbus LoadELF @{target.elf}", "Cannot load ELF on an unpaused machine."),
                               ("machine LoadPlatformDescription @/no/such.repl", "Could not find file"),
                               (f"i @{tmp_path}/none.resc", f"File does not exist: {tmp_path}/none.resc"),
                               ("runMacro $nothing", "No such variable: $nothing"),
                               ("cpu Frobnicate", "cpu does not provide a field, method or property Frobnicate.")]:
            with pytest.raises(TargetError, match=re.escape(words)):
                monitor.command(command)
        monitor.command("pause")
        monitor.command(f"sysbus LoadELF @{target.elf}")  # paused: accepted
        second = socket.create_connection(("127.0.0.1", target.ports[0]), timeout=0.5)
        with pytest.raises(TimeoutError):  # one client at a time: the second hears nothing meanwhile
            second.recv(64)
        monitor.close()
        target.monitor = None
        second.settimeout(5.0)
        assert second.recv(12) == bytes([255, 253, 0, 255, 251, 1, 255, 251, 3, 255, 252, 34])  # now it is served
        second.close()


HOLDER = """
import sys, time
from harness.boards import board
from harness.targets.renode import RenodeTarget
target = RenodeTarget(board("renode-stm32f4"))
target.load(sys.argv[1])
print(target.proc.pid, target.pid_file.read_text().strip(), *target.ports, flush=True)
time.sleep(600)
"""


def test_no_orphan_renode_when_the_harness_is_killed(tmp_path):
    """The .deb/.rpm/linux-dotnet ``renode`` is a script running dotnet as its child: PR_SET_PDEATHSIG would kill
    only the script. Renode's whole process group must go when the harness is SIGKILLed."""
    install_renode(tmp_path / "bin", wrapper=True)
    elf = tmp_path / "fw.elf"
    elf.write_bytes(b"\x7fELF")
    env = {**os.environ, "PATH": f"{tmp_path / 'bin'}{os.pathsep}{os.environ['PATH']}"}
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(elf)], stdout=subprocess.PIPE, text=True,
                              cwd=ROOT, env=env)
    pid = None
    try:
        spawned, pid, *ports = map(int, holder.stdout.readline().split())
        assert pid != spawned and running(pid) and all(listening(port) for port in ports)  # a grandchild
        os.kill(holder.pid, signal.SIGKILL)  # no finally, no atexit: only the watchdog can clean up now
        holder.wait()
        deadline = time.monotonic() + 5  # the kernel closes the dead group's sockets a moment after the exit
        while (running(pid) or any(listening(port) for port in ports)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not running(pid)
        assert not any(listening(port) for port in ports)
    finally:
        holder.kill()
        holder.wait()
        if pid is not None and running(pid):
            os.kill(pid, signal.SIGKILL)


# ---- the firmware for renode-stm32f4 (runs here: only the cross toolchain is needed) ----------------------------


@pytest.fixture(scope="module")
def renode_build():
    from harness.build.firmware import build_firmware
    from harness.model.modelfile import load

    return build_firmware(load(ROOT / "fixtures" / "models" / "default.npz"), BOARD)  # no image: device variant


@NO_TOOLCHAIN
def test_device_firmware_links_for_renode_with_a_vector_table_at_flash(renode_build):
    profile = board(BOARD)
    assert renode_build.info["variant"] == "device"
    assert {"-DRP_TICKS_DWT=1", "-DRP_UART_USART=1", '-DRP_BOARD_NAME="renode-stm32f4"'} <= \
        set(renode_build.info["cflags"])
    elf = str(renode_build.elf)
    headers = subprocess.run(["arm-none-eabi-readelf", "-lSW", elf], capture_output=True, text=True,
                             check=True).stdout
    loads = [ln.split() for ln in headers.splitlines() if ln.strip().startswith("LOAD")]
    assert loads and loads[0][2] == "0x08000000" and loads[0][3] == "0x08000000"  # LoadELF uses physical addresses
    in_ram = [(r.origin, r.end) for r in profile.ram]  # sram and ccm, both mapped by the repl
    for seg in loads:  # content (.data's image too) is loaded into flash; a segment without any (.bss) is RAM
        virt, phys = int(seg[2], 16), int(seg[3], 16)
        assert phys < profile.flash.end if int(seg[4], 16) else any(lo <= virt < hi for lo, hi in in_ram)
    sec = re.search(r"\.isr_vector\s+PROGBITS\s+([0-9a-f]+)\s+([0-9a-f]+)\s+([0-9a-f]+)", headers)
    assert sec and int(sec[1], 16) == profile.flash.origin and int(sec[3], 16) >= 16 * 4
    words = Path(elf).read_bytes()[int(sec[2], 16):int(sec[2], 16) + 8]
    sp, reset = int.from_bytes(words[:4], "little"), int.from_bytes(words[4:], "little")
    assert any(lo < sp <= hi for lo, hi in in_ram)                          # initial stack in the repl's RAM
    assert reset & 1 and profile.flash.origin <= reset < profile.flash.end  # Thumb reset handler in flash


# ---- a live Renode --------------------------------------------------------------------------------------------------


@pytest.mark.emulator
@NO_TOOLCHAIN
@pytest.mark.skipif(shutil.which("renode") is None, reason=f"renode not on PATH: {INSTALL}")
def test_boot_banner_over_the_socket_uart(renode_build):
    from harness.protocol.frames import FrameDecoder, Kind
    from harness.protocol.session import DeviceInfo

    def banner(link, timeout: float) -> DeviceInfo:
        decoder, deadline = FrameDecoder(), time.monotonic() + timeout
        while time.monotonic() < deadline:
            for frame in decoder.feed(link.read(64)):
                if frame.kind == Kind.HELLO_REPLY:
                    return DeviceInfo.parse(frame.payload)
        raise AssertionError(f"no HELLO_REPLY banner within {timeout} s")

    with RenodeTarget(board(BOARD)) as target:
        target.load(renode_build.elf, renode_build.info["build_id"])
        info = banner(target.link, 60.0)
        assert (info.board, info.build_id, info.ticks) == (BOARD, renode_build.info["build_id"], "dwt")
        target.reset()
        assert banner(target.link, 60.0).build_id == renode_build.info["build_id"]
        assert target.describe().startswith("Renode 1.16")
