"""A labgrid farm on loopback, all real processes: a ``labgrid-coordinator``, and per "host" a virtual bench board
(harness virtual-bench: pyOCD's flash path backed by QEMU), the flash agent beside it (harness farm agent) and a
``labgrid-exporter`` named after the host. Host ``a`` exports the bench's pty as a ``RawSerialPort`` (the exporter
starts ser2net with RFC 2217 when the place is acquired); host ``b`` serves it through a ser2net of its own in raw
TCP and exports a ``NetworkSerialPort`` with ``protocol: raw``. Each gets a place ``farm-<host>`` tagged with the
board and the probe, as ``harness farm places`` does."""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

from harness.farm.coordinator import Coordinator
from harness.targets.emulator import claim_ports

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent
BOARD = "virtual-bench-f405"


def wait_for_port(port: int, proc: subprocess.Popen, what: str, timeout: float = 20.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{what} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"{what} did not listen on {port} in {timeout:g} s")


class LoopbackFarm:
    def __init__(self, workdir: Path, hosts: tuple[str, ...] = ("a", "b")):
        self.workdir, self.hosts = Path(workdir), hosts
        self.procs: list[subprocess.Popen] = []
        self.places: dict[str, dict] = {}

    def _spawn(self, argv, **kw) -> subprocess.Popen:
        proc = subprocess.Popen(argv, cwd=kw.pop("cwd", self.workdir), start_new_session=True, **kw)
        self.procs.append(proc)
        return proc

    def _json_line(self, argv) -> dict:
        proc = self._spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
        line = proc.stdout.readline()
        if not line:
            raise RuntimeError(f"{argv[2:4]} printed nothing (exit {proc.wait(5)})")
        return json.loads(line)

    def start(self) -> LoopbackFarm:
        (port,) = claim_ports(1)
        self.address = f"127.0.0.1:{port}"
        coordinator = self.coordinator = self._spawn([str(BIN / "labgrid-coordinator"), "-l", self.address],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        wait_for_port(port, coordinator, "labgrid-coordinator")
        for host in self.hosts:
            self._start_host(host)
        with Coordinator(self.address) as client:
            deadline = time.monotonic() + 20
            while len([r for r in client.session.resources.values()]) < len(self.hosts):
                if time.monotonic() > deadline:
                    raise RuntimeError("the exporters did not register with the coordinator")
                time.sleep(0.2)
                client.sync()
            for host, info in self.places.items():
                if host == "a":  # as docs/farm.md sets a bench host up
                    subprocess.run([sys.executable, "-m", "harness", "farm", "places", info["config"], "--exporter",
                                    "host-a", "--lg-coordinator", self.address], cwd=self.workdir, check=True,
                                   capture_output=True)
                else:
                    client.create_place(info["place"])
                    client.add_match(info["place"], f"host-{host}/bench/*")
                    client.set_tags(info["place"], {"board": BOARD, "probe": info["probe"]})
                client.set_tags(info["place"], {"host": host})
        return self

    def _start_host(self, host: str) -> None:
        python = [sys.executable, "-m", "harness"]
        bench = self._json_line([*python, "virtual-bench", "--json"])
        agent = self._json_line([*python, "farm", "agent", "--listen", "127.0.0.1:0", "--json"])
        config = self.workdir / f"exporter-{host}.yaml"
        if host == "a":  # written by the command a bench host runs (docs/farm.md)
            subprocess.run([*python, "farm", "exporter-config", "--only-probe", bench["probe"], "--agent",
                            f"127.0.0.1:{agent['port']}", "-o", str(config)], cwd=self.workdir, check=True,
                           capture_output=True)
            place = next(line.split()[2][len("place="):] for line in config.read_text().splitlines()
                         if line.startswith("## harness:"))
        else:  # raw TCP from a ser2net of its own, as a NetworkSerialPort
            group = {"NetworkService": {"address": "127.0.0.1", "username": "harness", "port": agent["port"]}}
            (raw,) = claim_ports(1)
            ser2net = self._spawn([shutil.which("ser2net") or "/usr/sbin/ser2net", "-d", "-n",
                                   "-Y", f"connection: &raw{host}#  accepter: tcp,127.0.0.1,{raw}",
                                   "-Y", f"  connector: serialdev,{bench['pty']},115200n81,local"],
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            wait_for_port(raw, ser2net, "ser2net (raw)")
            group["NetworkSerialPort"] = {"host": "127.0.0.1", "port": raw, "speed": 115200, "protocol": "raw"}
            config.write_text("## written by tests/harness/farm/loopback.py\n" + json.dumps({"bench": group}) + "\n")
            place = f"farm-{host}"
        self._spawn([str(BIN / "labgrid-exporter"), "-c", self.address, "-n", f"host-{host}", "--hostname",
                     "127.0.0.1", str(config)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                    env={**os.environ, "PATH": f"{BIN}:{os.environ.get('PATH', '')}:/usr/sbin"})
        self.places[host] = {"place": place, "probe": bench["probe"], "pty": bench["pty"], "agent": agent["port"],
                             "config": str(config)}

    def kill_coordinator(self) -> None:
        """The coordinator gone as a crashed or unplugged server goes: at once, without a word to its clients."""
        os.killpg(self.coordinator.pid, signal.SIGKILL)
        self.coordinator.wait(10)

    def stop(self) -> None:
        for proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for proc in self.procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait(5)

    def __enter__(self) -> LoopbackFarm:
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc) -> None:
        self.stop()
