"""Where the instructions of one inference go, per function: the self-test firmware (one fixture image in flash)
run on QEMU's STM32F405 with every translated block logged as it executes (``-d in_asm,exec,nochain``), each
execution counted with its block's instruction count, and the counts summed per symbol of the ELF.

    .venv/bin/python bench/profile_firmware.py [--portable] [--top N | --function NAME] [--json]

The total is the whole run (boot, self-test, report), so it is a little above the inference's TIM2 figure
(``harness bench firmware``); a block that an interrupt cuts short counts whole, which the UART-free self-test
hardly ever does. About 10 s and 350 MB of temporary log for the default model.
"""

from __future__ import annotations

import bisect
import collections
import re
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from harness.build.firmware import build_firmware  # noqa: E402
from harness.cli.common import DEFAULT_IMAGE, load_model  # noqa: E402
from harness.model.image import load_image  # noqa: E402
from harness.targets.qemu import MACHINE, SEMIHOSTING, require_qemu  # noqa: E402

EXEC = re.compile(r"Trace \d+: 0x[0-9a-f]+ \[[0-9a-f]+/([0-9a-f]+)/")
INSN = re.compile(r"0x([0-9a-f]{8}):")


def symbols(elf: Path) -> tuple[list[int], list[tuple[int, int, str]]]:
    """The ELF's code symbols as (start, size, name), sorted, and their starts."""
    out = subprocess.run(["arm-none-eabi-nm", "-S", "--defined-only", "-n", str(elf)], capture_output=True,
                         text=True, check=True).stdout
    syms = sorted((int(a, 16) & ~1, int(s, 16), n) for a, s, t, n in
                  (line.split() for line in out.splitlines() if len(line.split()) == 4) if t in "tTwW")
    return [s[0] for s in syms], syms


def per_block(log: Path) -> tuple[dict[int, int], collections.Counter]:
    """Instructions per translated block (by start address) and executions per block."""
    size: dict[int, int] = {}
    runs: collections.Counter = collections.Counter()
    first, n = 0, 0
    with log.open() as f:
        for line in f:
            m = INSN.match(line)
            if m:
                if n == 0:
                    first = int(m.group(1), 16)
                n += 1
                continue
            if n:  # the block's listing ended
                size[first], n = n, 0
            m = EXEC.match(line)
            if m:
                runs[int(m.group(1), 16)] += 1
    if n:
        size[first] = n
    return size, runs


def annotate(log: Path, elf: Path, name: str) -> list[tuple[int, int, str]]:
    """(address, executions, instruction) for each instruction of function ``name``."""
    listing = subprocess.run(["arm-none-eabi-objdump", "-d", "--no-show-raw-insn", str(elf)], capture_output=True,
                             text=True, check=True).stdout
    body = listing.split(f"<{name}>:\n", 1)[1].split("\n\n", 1)[0].splitlines()
    insns = [(int(a, 16), t.strip()) for a, t in (line.split(":", 1) for line in body if ":" in line)]
    size, runs = per_block(log)
    hits: collections.Counter = collections.Counter()
    addrs = [a for a, _ in insns]
    for pc, count in runs.items():  # a block covers its first size[pc] instructions from pc
        if pc in addrs:
            i = addrs.index(pc)
            for a, _ in insns[i:i + size.get(pc, 0)]:
                hits[a] += count
    return [(a, hits[a], t) for a, t in insns]


def measure(args) -> dict:
    model = load_model(args.model, fixed=True)
    image = load_image(str(DEFAULT_IMAGE), *model.input_hw)
    build = build_firmware(model, "qemu-stm32f405", "selftest", image, dsp=not args.portable)
    starts, syms = symbols(build.elf)
    if args.function and args.function not in {name for _, _, name in syms}:  # before the 10 s run
        raise SystemExit(f"profile_firmware: no function {args.function} in the firmware; the table without "
                         "--function lists the hot ones")
    with tempfile.TemporaryDirectory(prefix="harness-profile-") as tmp:
        log = Path(tmp) / "exec.log"
        cmd = [require_qemu(), *MACHINE, "-serial", "null", *SEMIHOSTING, "-kernel", str(build.elf),
               "-d", "in_asm,exec,nochain", "-D", str(log)]
        subprocess.run(cmd, capture_output=True, timeout=900, check=False)
        if args.function:
            return {"function": args.function,
                    "instructions": [{"address": a, "executions": n, "text": t}
                                     for a, n, t in annotate(log, build.elf, args.function)]}
        size, runs = per_block(log)
    per: collections.Counter = collections.Counter()
    for pc, count in runs.items():
        i = bisect.bisect_right(starts, pc) - 1
        name = syms[i][2] if i >= 0 and pc < syms[i][0] + syms[i][1] else f"0x{pc:08x}"
        per[name] += count * size.get(pc, 0)
    total = sum(per.values())
    return {"dsp": not args.portable, "total": total,
            "functions": [{"name": n, "instructions": c} for n, c in per.most_common(args.top)]}


def show(r: dict) -> None:
    if "function" in r:
        for i in r["instructions"]:
            print(f"{i['executions']:>10,}  {i['address']:08x}  {i['text']}")
        return
    print(f"{'instructions':>13} {'share':>6}  function ({'DSP path' if r['dsp'] else 'portable C'}; whole run "
          f"{r['total']:,})")
    for f in r["functions"]:
        print(f"{f['instructions']:>13,} {100 * f['instructions'] / r['total']:>5.1f}%  {f['name']}")


def options(p) -> None:
    p.add_argument("--model", help="a .npz model (default: fixtures/models/default.npz)")
    p.add_argument("--portable", action="store_true", help="the portable C build (RP_USE_DSP=0)")
    p.add_argument("--top", type=int, default=30, help="functions shown (default 30)")
    p.add_argument("--function", help="instead, each instruction of this function with its executions")


if __name__ == "__main__":
    sys.exit(report.main(__doc__, measure, show, options))
