"""The README's "try it on one machine" farm block, run as written (bash, in a clean working folder with the
repository's .venv and tests linked in): its device test passes on the farm's place and the place is free after."""

import os
import re
import shutil
import signal
import socket
import subprocess
from pathlib import Path

import pytest

from tests.harness.farm.loopback import ROOT
from tests.harness.targets.needs import EMULATOR

pytest.importorskip("labgrid", reason="the [farm] extra is not installed: pip install -e '.[farm]'")
pytestmark = [*EMULATOR, pytest.mark.skipif(not (shutil.which("ser2net") or Path("/usr/sbin/ser2net").exists()),
                                            reason="ser2net not installed: apt-get install ser2net")]
VENV = ROOT / ".venv"


def readme_block() -> str:
    text = (ROOT / "README.md").read_text()
    start = text.index("Try it on one machine")
    return re.search(r"```sh\n(.*?)```", text[start:], re.S).group(1)


def port_free(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) != 0


@pytest.mark.skipif(not (VENV / "bin" / "labgrid-coordinator").exists(), reason="no .venv: run ./setup.sh")
def test_the_readme_farm_block_runs_as_written(tmp_path):
    if not (port_free(20408) and port_free(20500)):
        pytest.skip("ports 20408/20500 (the README's) are in use here")
    for name in (".venv", "tests", "fixtures", "pyproject.toml", "boards.yaml"):
        (tmp_path / name).symlink_to(ROOT / name)
    script = readme_block() + "status=$?\nkill %1 %2 %3 %4 2>/dev/null\nwait\nexit $status\n"
    env = {k: v for k, v in os.environ.items() if k != "LG_COORDINATOR"}
    proc = subprocess.Popen(["bash", "-c", "set -m\n" + script], cwd=tmp_path, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, text=True, start_new_session=True)
    try:
        out, _ = proc.communicate(timeout=300)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    assert proc.returncode == 0, out
    assert "1 passed" in out and "virtual-bench-f405" in out
    assert re.search(r"virtual-bench-f405-\w+\s+virtual-bench-f405\s+virtual-\d+\s+free", out), out
