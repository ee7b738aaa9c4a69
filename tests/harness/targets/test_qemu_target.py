"""QemuTarget's lifetime: the emulator dies with the harness, even when the harness is killed outright."""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from harness.boards import board
from harness.build.cross import build_elf
from harness.targets.qemu import QemuTarget
from tests.harness.targets.needs import EMULATOR, alive

pytestmark = EMULATOR

PROBE = Path(__file__).resolve().parent / "programs" / "runtime_probe.c"
HOLDER = """
import sys, time
from harness.boards import board
from harness.targets.qemu import QemuTarget
target = QemuTarget(board("qemu-stm32f405"))
target.load(sys.argv[1])
print(target.proc.pid, flush=True)
time.sleep(600)
"""


def test_no_orphan_emulator_when_the_harness_is_killed(tmp_path):
    elf = build_elf(PROBE, tmp_path / "probe.elf", kernels=False, semihosting=False)
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(elf)], stdout=subprocess.PIPE, text=True,
                              cwd=Path(__file__).resolve().parents[3])
    qemu_pid = int(holder.stdout.readline())
    assert alive(qemu_pid)
    os.kill(holder.pid, signal.SIGKILL)  # no finally, no atexit: only the kernel can clean up now
    holder.wait()
    deadline = time.monotonic() + 5
    while alive(qemu_pid) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert not alive(qemu_pid)


def test_close_stops_the_emulator_and_removes_its_files(tmp_path):
    elf = build_elf(PROBE, tmp_path / "probe.elf", kernels=False, semihosting=False)
    with QemuTarget(board("qemu-stm32f405")) as target:
        target.load(elf)
        pid, workdir = target.proc.pid, target.dir
        assert "QEMU" in target.describe() and "Renode" not in target.describe()
    assert not alive(pid) and not workdir.exists()
    target.close()  # twice is harmless
