"""A child the harness forks (harness/targets/emulator.py's spawn: QEMU, pyOCD, tools) while a labgrid session's
threads are inside gRPC must still reach its exec. With gRPC's fork handlers on, about one child in six died of
SIGABRT before it (measured: 47 and 56 of 300); harness/farm/__init__.py turns them off."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("labgrid", reason="the [farm] extra is not installed: pip install -e '.[farm]'")

from harness.farm.coordinator import Coordinator  # noqa: E402
from harness.targets.emulator import claim_ports, spawn  # noqa: E402
from tests.harness.farm.loopback import wait_for_port  # noqa: E402


def test_grpc_fork_handlers_are_off_unless_the_user_set_them():
    assert os.environ.get("GRPC_ENABLE_FORK_SUPPORT") == "false"


def test_children_forked_beside_a_busy_labgrid_session_reach_their_exec(tmp_path: Path):
    address = f"127.0.0.1:{claim_ports(1)[0]}"
    coordinator = subprocess.Popen([str(Path(sys.executable).parent / "labgrid-coordinator"), "-l", address],
                                   cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    stop = threading.Event()
    try:
        wait_for_port(int(address.rpartition(":")[2]), coordinator, "labgrid-coordinator")
        with Coordinator(address) as session:
            def busy():  # the gRPC calls a session makes while the harness starts its targets
                while not stop.is_set():
                    session.places()

            pollers = [threading.Thread(target=busy) for _ in range(2)]
            for t in pollers:
                t.start()
            died = []
            for i in range(150):
                child = spawn(["/bin/true"], tmp_path / f"child-{i}.log")
                if child.wait() != 0:
                    died.append((child.returncode, (tmp_path / f"child-{i}.log").read_text()[-120:]))
            stop.set()
            for t in pollers:
                t.join()
        assert not died, f"{len(died)} of 150 children died before exec: {died[:2]}"
    finally:
        stop.set()
        coordinator.terminate()
        coordinator.wait()
