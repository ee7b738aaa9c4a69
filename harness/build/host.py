"""The C kernels compiled for the host as one shared library, so the default test run checks them against the
NumPy fixed-point reference without an emulator. Builds are cached by a content hash of compiler, flags and
sources: an unchanged tree costs one hash, not a compile."""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

from harness.build.compile import compile_and_link
from harness.errors import BuildError, DependencyError
from harness.project import SOURCE

ROOT = SOURCE.root
FIRMWARE = SOURCE.firmware
CACHE = SOURCE.host_cache
CFLAGS = ("-std=c11", "-O2", "-Wall", "-Wextra", "-Werror", "-fPIC")  # linked with -shared


@dataclass(frozen=True)
class HostLibrary:
    path: Path
    key: str        # content hash of compiler version, flags and every source and header
    compiler: str   # first line of `cc --version`


def kernel_sources() -> list[Path]:
    return sorted((FIRMWARE / "kernels").rglob("*.c"))


def host_compiler(cc: str | None) -> tuple[str, str]:
    cc = cc or os.environ.get("CC", "cc")
    if shutil.which(cc) is None:
        raise DependencyError(f"C compiler {cc!r} not found; install one with `apt-get install gcc` or set CC")
    out = subprocess.run([cc, "--version"], capture_output=True, text=True, check=False)
    return cc, (out.stdout.splitlines() or ["unknown"])[0]


def build_host_library(cache: Path = CACHE, cc: str | None = None, extra: Path | None = None) -> HostLibrary:
    """The kernels as ``librp-<key>.so``; with ``extra`` (a generated model directory), its ``*.c`` files too."""
    cc, version = host_compiler(cc)
    sources = kernel_sources()
    headers = sorted((FIRMWARE / "include").rglob("*.h"))  # internal/ too
    extras = sorted(Path(extra).glob("*.[ch]")) if extra else []
    h = hashlib.sha256("\0".join([version, *CFLAGS]).encode())
    for f in headers + sources:
        h.update(str(f.relative_to(FIRMWARE)).encode() + b"\0" + f.read_bytes())
    for f in extras:
        h.update(f.name.encode() + b"\0" + f.read_bytes())
    key = h.hexdigest()[:16]
    path = Path(cache) / f"librp-{key}.so"
    if path.is_file():
        return HostLibrary(path, key, version)
    path.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile(dir=path.parent, suffix=".so", delete=False) as tmp:
        includes = [f"-I{FIRMWARE / 'include'}", *([f"-I{extra}"] if extra else [])]
        run = compile_and_link(cc, [*CFLAGS, *includes], sources + [f for f in extras if f.suffix == ".c"],
                               Path(tmp.name), ["-shared"])
        if run.returncode != 0:
            os.unlink(tmp.name)
            tail = " | ".join((run.stderr or run.stdout).strip().splitlines()[-3:])
            raise BuildError(f"host kernel build failed ({cc} exit {run.returncode}): {tail}")
        os.replace(tmp.name, path)  # atomic: a concurrent build never loads a half-written library
    return HostLibrary(path, key, version)
