"""Realistic runs for the store tests, and a writer process that records them (for tests across processes).

    python -m tests.harness.history.store_writer STORE --runs 25 --tag a        25 runs, then exit
    python -m tests.harness.history.store_writer STORE --runs 0 --fixtures 200  until killed
    python -m tests.harness.history.store_writer STORE --open-only --gate     open (migrate) when told "go"

It prints "adding K" before and "committed K ID" after each add, flushed, so a test that kills it knows how far
it got. With --gate it first prints "ready" (imports done) and waits for a line on stdin: ``release`` starts
several writers at the same instant. Run it with the repository root as cwd (or on PYTHONPATH).
"""

from __future__ import annotations

import argparse
import dataclasses
import random
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from harness.history.record import FixtureResult, Run
from harness.history.store import open_store

REPO = Path(__file__).resolve().parents[3]
LAYERS = ("conv1", "rnnpool", "conv2", "conv3", "conv4", "conv5", "conv6", "head1", "head2", "head3", "head4",
          "detect")
T0 = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


def make_run(seed: int = 0, *, board: str = "qemu-stm32f405", model: str = "rnnpool-face", commit: str | None = None,
             minutes: int | None = None, fixtures: int = 4, repeats: int = 3, ap50: float | None = 0.8125,
             tag: str = "") -> Run:
    """A run as `harness detect` records it: ``fixtures`` fixtures over the 12 layers, ``repeats`` samples each."""
    rng = random.Random(seed)
    results = []
    for i in range(fixtures):
        latency = {layer: tuple(float(rng.randrange(20_000, 900_000)) for _ in range(repeats)) for layer in LAYERS}
        latency = {"total": tuple(sum(s[k] for s in latency.values()) for k in range(repeats)), **latency}
        detections = tuple((rng.uniform(0, 160), rng.uniform(0, 120), rng.uniform(160, 320), rng.uniform(120, 240),
                            round(rng.random(), 6)) for _ in range(rng.randrange(0, 4)))
        n = len(detections)
        results.append(FixtureResult(
            name=f"scenes/scene-{i:03d}", matched=rng.random() > 0.2,
            fingerprints={layer: f"{rng.getrandbits(32):08x}" for layer in LAYERS},
            detections=detections, latency=latency, stack_bytes=rng.randrange(2_000, 6_000),
            fixed_float=(n, n, n + rng.randrange(0, 2))))
    return Run(
        board=board, backend="qemu", runs_on="QEMU 7.2.22 netduinoplus2, -icount shift=0", unit="instructions",
        model=model, model_id=f"{rng.getrandbits(64):016x}", build_id=f"{rng.getrandbits(160):040x}",
        dsp=bool(seed % 2), commit=commit if commit is not None else f"{rng.getrandbits(160):040x}",
        dirty=seed % 3 == 0, branch="main",
        time=(T0 + timedelta(minutes=seed if minutes is None else minutes)).isoformat(timespec="seconds"),
        host="ci-runner-7", compiler="arm-none-eabi-gcc 12.2.1 -O2",
        packages={"python": "3.11.7", "harness": "0.1.0", "numpy": "1.26.4"},
        flash_bytes=61_244 + seed, ram_bytes=98_304, arena_bytes=76_800, ap50=ap50, fixtures=tuple(results),
        repeats=repeats, extra={"tag": tag, "seed": seed, "notes": ["ci", None, 1.5], "nested": {"ok": True}})


def writer(store: str, *, runs: int = 25, fixtures: int = 4, tag: str = "w", open_only: bool = False,
           gate: bool = False) -> subprocess.Popen:
    """This module as a child process (stdout piped, text)."""
    args = [sys.executable, "-m", "tests.harness.history.store_writer", store, "--runs", str(runs), "--fixtures",
            str(fixtures), "--tag", tag]
    args += ["--open-only"] if open_only else []
    args += ["--gate"] if gate else []
    return subprocess.Popen(args, cwd=REPO, stdin=subprocess.PIPE if gate else subprocess.DEVNULL,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def release(procs: list[subprocess.Popen]) -> None:
    """Once every gated writer is ready, let them all go at once."""
    for p in procs:
        line = p.stdout.readline()
        assert line == "ready\n", f"writer not ready: {line!r} {p.stderr.read() if p.poll() is not None else ''}"
    for p in procs:
        p.stdin.write("go\n")
        p.stdin.flush()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("store")
    parser.add_argument("--runs", type=int, default=25, help="0: until killed")
    parser.add_argument("--fixtures", type=int, default=4)
    parser.add_argument("--tag", default="w")
    parser.add_argument("--open-only", action="store_true", help="open (and so migrate) the store, print its version")
    parser.add_argument("--gate", action="store_true", help='print "ready", wait for a line on stdin, then start')
    args = parser.parse_args(argv)
    if args.gate:
        print("ready", flush=True)
        sys.stdin.readline()
    with open_store(args.store) as store:
        if args.open_only:
            print(f"version {store.version}", flush=True)
            return 0
        # Built once: the time goes into the add (its transaction), which is where a kill should land.
        base = make_run(7, fixtures=args.fixtures, tag=args.tag)
        k = 0
        while args.runs == 0 or k < args.runs:
            run = dataclasses.replace(base, time=(T0 + timedelta(seconds=k)).isoformat(),
                                      extra={**base.extra, "k": k})
            print(f"adding {k}", flush=True)
            run_id = store.add(run)
            print(f"committed {k} {run_id}", flush=True)
            k += 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
