"""The board farm's figures on a loopback farm of real processes (tests/harness/farm/loopback.py): how long a
place takes to acquire, how long a waiting session takes to get a place its holder releases (the reservation
hand-over), and a 320x240 image's upload over RFC 2217 (the exporter's ser2net), raw TCP and the local pty.

    .venv/bin/python bench/farm_times.py [--images 3] [--repeats 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import subprocess
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from harness.dut import Dut, parse_board  # noqa: E402
from harness.farm.coordinator import Coordinator  # noqa: E402
from harness.farm.lease import FarmRequest, Lease  # noqa: E402
from harness.model.modelfile import load  # noqa: E402
from harness.scenes.fixtures import load as load_fixtures  # noqa: E402
from tests.harness.farm.loopback import LoopbackFarm  # noqa: E402


def acquire_seconds(address: str) -> float:
    with Coordinator(address) as client:
        lease = Lease(client, FarmRequest(tags={"host": "a"}))
        start = time.monotonic()
        lease.acquire()
        took = time.monotonic() - start
        lease.release()
    return took


WAITER = """
import sys, time
from harness.farm.coordinator import Coordinator
from harness.farm.lease import FarmRequest, Lease
with Coordinator(sys.argv[1]) as client:
    lease = Lease(client, FarmRequest(tags={"host": "a"}))
    lease.acquire()
    print(time.time(), flush=True)
    lease.release()
"""


def hand_over_seconds(address: str) -> float:
    """From the holder's release to the waiting session (another process, as it would be) holding the place."""
    with Coordinator(address) as client:
        holder = Lease(client, FarmRequest(tags={"host": "a"}))
        holder.acquire()
        waiter = subprocess.Popen([sys.executable, "-c", WAITER, address], cwd=ROOT, stdout=subprocess.PIPE,
                                  stderr=subprocess.DEVNULL, text=True)
        time.sleep(5)  # the waiter is polling its reservation by now
        start = time.time()
        holder.release()
        acquired = float(waiter.stdout.readline())
        waiter.wait(30)
    return acquired - start


def upload_seconds(spec: str, address: str, model, images) -> float:
    choice = parse_board(spec, coordinator=address)
    with Dut(choice, model).start() as dut:
        times = []
        for image in images:
            dut.run(image)
            times.append(dut.timing["upload_s"])
    return statistics.median(times)


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--repeats", type=int, default=3)
    args = p.parse_args()
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    images = [f.image() for f in load_fixtures(ROOT / "fixtures")[:args.images]]
    with tempfile.TemporaryDirectory() as work, LoopbackFarm(Path(work)) as farm:
        acquire = statistics.median(acquire_seconds(farm.address) for _ in range(args.repeats))
        print(f"acquire a free place (reserve, allocate, acquire, lease): {acquire:.2f} s", flush=True)
        hand_over = statistics.median(hand_over_seconds(farm.address) for _ in range(args.repeats))
        print(f"reservation hand-over (holder releases -> waiter holds it): {hand_over:.2f} s", flush=True)
        for label, spec in (("RFC 2217 through the exporter's ser2net", "labgrid:host=a"),
                            ("raw TCP (NetworkSerialPort)", "labgrid:host=b"),
                            ("the local pty, no farm", f"virtual-bench-f405@{farm.places['a']['pty']}")):
            seconds = upload_seconds(spec, farm.address, model, images)
            print(f"upload of a 320x240 image, {label}: {seconds:.2f} s (median of {len(images)})", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
