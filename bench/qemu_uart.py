"""Where the upload's time goes on QEMU (docs/streaming.md, "Where the upload's time goes"): the device firmware on
netduinoplus2 under QEMU command-line variants, one image uploaded raw and row-coded over USART1, bytes per second.

    .venv/bin/python bench/qemu_uart.py [--images N] [--json]

Variants: the harness's own (-icount shift=0, a TCP chardev with nodelay), without -icount (the vCPU then runs on
host time), and with -icount shift=0,sleep=off. The rate is the stream's bytes (what crossed in IMAGE_CHUNKs) over
the upload's seconds.
"""

from __future__ import annotations

import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from bench import report  # noqa: E402
from harness.build.firmware import build_firmware  # noqa: E402
from harness.model.image import load_image  # noqa: E402
from harness.model.modelfile import load  # noqa: E402
from harness.protocol.session import Session  # noqa: E402
from harness.targets.emulator import claim_ports, open_link, release_ports, spawn, stop  # noqa: E402
from harness.targets.qemu import require_qemu  # noqa: E402

VARIANTS = {
    "-icount shift=0 (the harness's)": ["-icount", "shift=0"],
    "no -icount": [],
    "-icount shift=0,sleep=off": ["-icount", "shift=0,sleep=off"],
}


def rate(elf: Path, flags: list[str], images, codec: str) -> tuple[float, int, float]:
    (port,) = claim_ports(1)
    log = Path(tempfile.mkdtemp(prefix="harness-uart-")) / "qemu.log"
    cmd = [require_qemu(), "-M", "netduinoplus2", "-nographic", "-monitor", "none", *flags, "-chardev",
           f"socket,id=s0,host=127.0.0.1,port={port},server=on,wait=on,nodelay=on", "-serial", "chardev:s0",
           "-kernel", str(elf)]
    proc = spawn(cmd, log)
    try:
        link = open_link(f"socket://127.0.0.1:{port}", proc, log, "QEMU", 20.0)
        session = Session(link, codec=codec)
        session.hello()
        seconds, streamed = 0.0, 0
        for image in images:
            start = time.monotonic()
            session.upload(image)
            seconds += time.monotonic() - start
            streamed += session.last_upload.stream_bytes
        link.close()
        return streamed / seconds / 1000, streamed // len(images), seconds / len(images)
    finally:
        stop(proc)
        release_ports((port,))


def measure(args) -> dict:
    model = load(ROOT / "fixtures" / "models" / "default.npz")
    elf = build_firmware(model, "qemu-stm32f405", "device").elf
    paths = sorted((ROOT / "fixtures" / "scenes").glob("scene-*.png"))[:args.images]
    images = [load_image(str(p), 240, 320) for p in paths]
    out = {}
    for name, flags in VARIANTS.items():
        for codec in ("raw", "rows"):
            kbs, nbytes, secs = rate(elf, flags, images, codec)
            out[f"{name}, {codec}"] = {"kB_per_s": round(kbs, 1), "stream_bytes": nbytes, "seconds": round(secs, 2)}
    return out


def show(result: dict) -> None:
    for name, r in result.items():
        print(f"{name:<40} {r['kB_per_s']:5.1f} kB/s  {r['stream_bytes']:>6,} B  {r['seconds']:.2f} s per image")


if __name__ == "__main__":
    sys.exit(report.main(__doc__, measure, show,
                         lambda p: p.add_argument("--images", type=int, default=3, help="scenes to upload")))
