"""``harness build``: model file + board → generated C → ELF, map and ``firmware.json``, cached.

A build is keyed by a content hash of the compiler version and flags, the board profile, every firmware source
and header, the generated model code, the application variant and (self-test) the image. An identical request
returns the cached build after hashing alone.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from harness import boards
from harness.build import cross, host_firmware
from harness.build.elf import build_id, section_sizes  # firmware.section_sizes/build_id: their old home
from harness.build.host import FIRMWARE
from harness.codegen.carray import c_array
from harness.codegen.generate import GeneratedModel, generate
from harness.errors import BuildError, UsageError
from harness.project import SOURCE
from harness.model.modelfile import Model

CACHE = SOURCE.build_cache
APP = FIRMWARE / "app"
APPS = {"selftest": APP / "selftest.c",   # image in flash, report over semihosting, exit status (emulator only)
        "device": APP / "device.c"}       # the framed serial protocol (docs/protocol.md); flashable
PROTOCOL = FIRMWARE / "protocol"
APP_SOURCES = {"selftest": [],  # the device speaks docs/protocol.md
               "device": [APP / "rp_device_info.c", *sorted(PROTOCOL.glob("*.c"))]}
DEVICE_MAX_PAYLOAD = 1024  # frame buffers cost 2 x ~1 KB of RAM; the host reads big tensors in pieces
FORMAT = "harness-firmware/1"


@dataclass(frozen=True)
class FirmwareBuild:
    directory: Path
    elf: Path
    map: Path
    info: dict          # the content of firmware.json
    cached: bool
    generated: GeneratedModel

    @property
    def json_path(self) -> Path:
        return self.directory / "firmware.json"


def firmware_sources() -> list[Path]:
    return sorted(p for p in FIRMWARE.rglob("*") if p.is_file() and p.suffix in (".c", ".h", ".in", ".ld"))


def image_header(image: np.ndarray) -> str:
    return ("/* generated — do not edit. self-test input image */\n#include <stdint.h>\n"
            + c_array("selftest_image", np.ascontiguousarray(image, np.uint8), per_line=32)
            .replace("static const", "static const __attribute__((aligned(4)))"))


def _key(parts: list[bytes]) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(len(p).to_bytes(8, "little") + p)
    return h.hexdigest()[:16]


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as f:
        f.write(text)
    os.replace(f.name, path)


def memory_summary(sections: dict[str, dict], stack_reserve: int) -> dict:
    in_ram = {n: s["size"] for n, s in sections.items() if 0x10000000 <= s["address"] < 0x30000000}
    in_flash = {n: s["size"] for n, s in sections.items() if s["address"] < 0x10000000}
    data = sum(v for n, v in in_ram.items() if n.startswith(".data"))
    return {"flash_bytes": sum(in_flash.values()) + data, "ram_bytes": sum(in_ram.values()) + stack_reserve,
            "ram_sections": in_ram, "flash_sections": in_flash}


def build_firmware(model: Model, board: str = "qemu-stm32f405", variant: str | None = None,
                   image: np.ndarray | None = None, out_dir: str | Path | None = None, dsp: bool = True,
                   stack_reserve: int = 8192, baud: int | None = None,
                   defines: tuple[str, ...] = ()) -> FirmwareBuild:
    """The firmware for ``model`` on ``board`` (cached by content). ``defines`` are extra ``-D`` settings, for tests
    that build a variant (e.g. ``RP_TEST_FAULT_LAYER=3``)."""
    variant = variant or ("selftest" if image is not None else "device")
    if variant not in APPS:
        raise UsageError(f"unknown firmware variant {variant!r}; choose one of: {', '.join(sorted(APPS))}")
    if variant == "selftest" and image is None:
        raise UsageError("the self-test firmware needs an image (--image)")
    profile = cross.board_profile(board)
    host = boards.board(board).spec.toolchain == "host"
    if host and variant != "device":
        raise UsageError(f"board {board} runs the device firmware only; the {variant} firmware needs an emulator "
                         f"(--board=qemu-stm32f405)")
    compiler = host_firmware.compiler_version() if host else cross.compiler_version()
    gen = generate(model, CACHE / "generated" / model.model_id)
    extra = {"selftest_image.h": image_header(image)} if image is not None else {}
    extra_defines, defines = defines, [f"RP_SEMIHOSTING={int(variant == 'selftest')}"]
    if variant == "device":
        defines.append(f"RP_FRAME_MAX_PAYLOAD={DEVICE_MAX_PAYLOAD}")
    if baud is not None and not host:  # overrides the board profile's (the host opens its port at the same rate)
        cross.check_baud(boards.board(board), int(baud))
        defines.append(f"RP_UART_BAUD={int(baud)}u")
    defines += list(extra_defines)
    if host:
        defines.append(f'RP_BOARD_NAME="{board}"')
    flags = host_firmware.flags(defines) if host else cross.flags(dsp=dsp, defines=defines, board=board)
    parts = [compiler.encode(), "\0".join(flags).encode(), json.dumps(profile, sort_keys=True).encode(),
             variant.encode(), str(stack_reserve).encode()]
    for f in firmware_sources() + list(gen.files):
        parts += [f.name.encode(), f.read_bytes()]
    parts += [t.encode() for t in extra.values()]
    key = _key(parts)
    directory = Path(out_dir) if out_dir else CACHE / f"{board}-{model.model_id}-{variant}-{key}"
    json_path = directory / "firmware.json"
    if json_path.is_file():
        info = json.loads(json_path.read_text())
        if info.get("key") == key and (directory / "firmware.elf").is_file():
            return FirmwareBuild(directory, directory / "firmware.elf", directory / "firmware.map", info, True, gen)
    with tempfile.TemporaryDirectory(dir=CACHE.parent if not out_dir else None) as tmp:
        work = Path(tmp)
        for name, text in extra.items():
            (work / name).write_text(text)
        sources, includes = [gen.directory / "model.c", APP / "rp_app.c", *APP_SOURCES[variant]], \
            [gen.directory, work, APP, PROTOCOL]
        if host:
            elf = host_firmware.build_elf(APPS[variant], work / "firmware.elf", extra_sources=sources,
                                          include_dirs=includes, defines=defines)
            stack_reserve = 0  # the host's stack is not the board's reserve
        else:
            elf = cross.build_elf(APPS[variant], work / "firmware.elf", board=board, dsp=dsp, extra_sources=sources,
                                  include_dirs=includes, defines=defines, stack_size=stack_reserve)
        sections = section_sizes(elf)
        info = {"format": FORMAT, "key": key, "model_id": model.model_id, "arch": model.arch,
                "board": board, "variant": variant, "build_id": build_id(elf), "compiler": compiler,
                "cflags": flags, "dsp": dsp and not host, "arena_bytes": gen.plan.arena_bytes,
                "stack_reserve": stack_reserve,
                **(host_firmware.memory_summary(elf) if host else memory_summary(sections, stack_reserve)),
                "sections": sections,
                "image_sha256": hashlib.sha256(image.tobytes()).hexdigest() if image is not None else None,
                "built": dt.datetime.now(dt.UTC).isoformat(timespec="seconds")}
        directory.mkdir(parents=True, exist_ok=True)
        for name in ("firmware.elf", "firmware.map"):
            if (work / name).is_file():  # atomic: a parallel worker may be loading the same cached ELF
                tmp = directory / f".{name}.{os.getpid()}.tmp"
                shutil.copy2(work / name, tmp)
                os.replace(tmp, directory / name)
        _write_atomic(json_path, json.dumps(info, indent=2) + "\n")  # written last: marks the build complete
    return FirmwareBuild(directory, directory / "firmware.elf", directory / "firmware.map", info, False, gen)


def record_measurement(build: FirmwareBuild, measured: dict) -> None:
    """Add what a run measured (stack high-water, instructions) to the build's firmware.json."""
    info = dict(build.info, measured=measured)
    _write_atomic(build.json_path, json.dumps(info, indent=2) + "\n")
    if not build.json_path.is_file():
        raise BuildError(f"could not update {build.json_path}")
