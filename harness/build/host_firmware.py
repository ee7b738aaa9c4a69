"""The device firmware built for the host board: the same application, protocol, kernels and generated model as
on the M4, with the host runtime (firmware/platform/host/runtime.c) in place of the STM32 one, compiled by the
host's cc into an executable that harness/targets/host.py runs behind a pty. The kernels take their portable C
paths (no DSP extension here), which the kernel tests hold bit-exact with the DSP ones."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from harness.build.compile import compile_and_link
from harness.build.cross import log_summary
from harness.build.host import FIRMWARE, host_compiler, kernel_sources
from harness.errors import BuildError

RUNTIME = FIRMWARE / "platform" / "host" / "runtime.c"
# format.c is plain C shared with the M4 runtime; the rest of firmware/runtime drives STM32 registers.
SHARED_RUNTIME = (FIRMWARE / "runtime" / "format.c",)
CFLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fno-strict-aliasing")
LDFLAGS = ("-no-pie", "-Wl,--build-id=sha1")  # -no-pie: a fault's pc is the ELF's address


def compiler_version(cc: str | None = None) -> str:
    return host_compiler(cc)[1]


DEFINES = ('RP_TICKS_NAME="host"',)  # its ticks are CLOCK_MONOTONIC nanoseconds (firmware/platform/host/runtime.c)


def flags(defines: Iterable[str] = ()) -> list[str]:
    return [*CFLAGS, *(f"-D{d}" for d in (*DEFINES, *defines))]


def build_elf(main_c: Path, out: Path, *, extra_sources: Iterable[Path] = (), include_dirs: Iterable[Path] = (),
              defines: Iterable[str] = (), cc: str | None = None) -> Path:
    """Kernels + the host runtime + ``main_c`` + ``extra_sources`` → the executable ``out``."""
    cc, _ = host_compiler(cc)
    out = Path(out)
    sources = [*kernel_sources(), *SHARED_RUNTIME, RUNTIME, Path(main_c), *map(Path, extra_sources)]
    includes = [FIRMWARE / "include", FIRMWARE / "runtime", *map(Path, include_dirs)]
    run = compile_and_link(cc, [*flags(defines), *(f"-I{d}" for d in includes)], sources, out,
                           [*LDFLAGS, f"-Wl,-Map={out.with_suffix('.map')}"])
    if run.returncode != 0:
        raise BuildError(f"host board build failed ({cc} exit {run.returncode}): "
                         f"{log_summary(run.stderr or run.stdout)}")
    return out


def memory_summary(elf: Path) -> dict:
    """The host executable's bytes, for the record only (never the M4's budget): code and constants as "flash",
    writable data as "RAM"; the same keys as harness/build/firmware.py's memory_summary."""
    from harness.build.elf import allocated_sections

    flash = {s.name: s.size for s in allocated_sections(elf) if not s.writable}
    ram = {s.name: s.size for s in allocated_sections(elf) if s.writable}
    data = sum(size for name, size in ram.items() if name.startswith(".data"))
    return {"flash_bytes": sum(flash.values()) + data, "ram_bytes": sum(ram.values()),
            "ram_sections": ram, "flash_sections": flash}
