"""The serial link's fault matrix: ``harness bench link --fault KIND:RATE`` for every cell, then the table of
docs/protocol.md (exact / images, and the time per image against the clean images of the same run).

    .venv/bin/python bench/link_matrix.py [--board qemu-stm32f405] [--images 3] [--rates 1e-3,5e-3,1e-2,2e-2]

Each cell is its own run (fresh emulator, seed 0); faults hit both directions. Besides the rate grid it measures
the goal cells: bursts of exactly 64 bytes at 1e-3, and 2 s stalls (about one per image each way).
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
KINDS = {"flip": "bit flip", "drop": "byte drop", "duplicate": "duplicate byte", "garbage": "inserted garbage",
         "burst": "bursts of 16–64 damaged bytes"}
GOALS = {"burst:1e-3:64": "bursts of 64 bytes at 1e-3", "stall:1.5e-5:2": "2 s stalls (1.5e-5 per byte)",
         "stall:2e-4:0.5-2": "stalls of 0.5–2 s at 2e-4"}


def cell(board: str, fault: str, images: int) -> dict:
    cmd = [sys.executable, "-m", "harness", "bench", "link", "--board", board, "--fault", fault, "--images",
           str(images), "--json", "-q"]
    run = subprocess.run(cmd, capture_output=True, text=True, cwd=ROOT, check=False)
    try:
        return json.loads(run.stdout.strip().splitlines()[-1])
    except (IndexError, json.JSONDecodeError):
        return {"faults": fault, "images": images, "exact": 0, "wrong": 0, "errors": images,
                "error_messages": [run.stderr.strip()[-300:]]}


def show(d: dict) -> str:
    text = f"{d['exact']}/{d['images']} exact"
    if d.get("wrong"):
        text += f", **{d['wrong']} wrong**"
    if d.get("slowdown"):
        text += f", {d['slowdown']}×"
    if d.get("errors"):
        text += f", {d['errors']} clear errors"
    return text


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--board", default="qemu-stm32f405")
    p.add_argument("--images", type=int, default=3)
    p.add_argument("--rates", default="1e-3,5e-3,1e-2,2e-2")
    p.add_argument("--kinds", default=",".join(KINDS))
    args = p.parse_args()
    rates = args.rates.split(",")
    results = []
    print("| fault (per byte, both directions) | " + " | ".join(rates) + " |")
    print("|---|" + "---|" * len(rates))
    for kind in args.kinds.split(","):
        row = []
        for rate in rates:
            d = cell(args.board, f"{kind}:{rate}", args.images)
            results.append(d)
            row.append(show(d))
            print(json.dumps(d), file=sys.stderr, flush=True)
        print(f"| {KINDS[kind]} | " + " | ".join(row) + " |", flush=True)
    print()
    for fault, name in GOALS.items():
        d = cell(args.board, fault, args.images)
        results.append(d)
        print(json.dumps(d), file=sys.stderr, flush=True)
        print(f"- {name}: {show(d)} (clean {d.get('clean_seconds_per_image')} s, faulty "
              f"{d.get('seconds_per_image')} s per image)", flush=True)
    return 1 if any(d.get("wrong") for d in results) else 0


if __name__ == "__main__":
    sys.exit(main())
