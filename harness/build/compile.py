"""Compiling C one translation unit at a time, in parallel, then linking: the one way every build here (the M4
firmware, the host board's executable, the host kernel library) turns sources into a binary.

Each unit goes through ccache when it is installed (Debian: ``apt-get install ccache``), with its cache in the
project's ``.harness/ccache``: the kernels, which every firmware variant and board shares, are then compiled once
per compiler and flags instead of once per build. ccache keys a unit by its preprocessed text, so a ``-D`` the unit
never reads does not miss. The output equals a one-shot ``cc a.c b.c -o out``, which compiles each unit alone too
(tests/harness/build/test_compile.py holds that).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from harness.project import SOURCE

CCACHE_INSTALL = "apt-get install ccache"


def ccache() -> str | None:
    """The ccache executable, unless absent or turned off (``HARNESS_CCACHE=0``)."""
    if os.environ.get("HARNESS_CCACHE", "1") == "0":
        return None
    return shutil.which("ccache")


def describe() -> str:
    """What builds compile through, for ``harness doctor``."""
    wrapper = ccache()
    if wrapper is None:
        return f"no ccache (each build compiles every unit: {CCACHE_INSTALL})"
    version = subprocess.run([wrapper, "--version"], capture_output=True, text=True, check=False).stdout
    return (version.splitlines() or ["ccache"])[0].replace(" version", "")


def _environment() -> dict[str, str]:
    return {**os.environ, "CCACHE_DIR": os.environ.get("CCACHE_DIR", str(SOURCE.cache / "ccache"))}


def compile_and_link(cc: str, compile_flags: Sequence[str], sources: Iterable[Path], out: Path,
                     link_flags: Sequence[str] = (), jobs: int | None = None) -> subprocess.CompletedProcess:
    """``sources`` → objects (``cc -c`` with ``compile_flags``, ``jobs`` at a time) → ``out`` (``cc`` with
    ``compile_flags`` and ``link_flags``). Returns the first failing compile's process, else the link's: the caller
    turns a non-zero return code into its own error."""
    sources = [Path(s) for s in sources]
    wrapper = ccache()
    env = _environment() if wrapper else None
    prefix = [wrapper, cc] if wrapper else [cc]
    with tempfile.TemporaryDirectory(prefix="harness-objects-") as tmp:
        objects = [Path(tmp) / f"{i:02d}-{source.stem}.o" for i, source in enumerate(sources)]

        def compile_unit(pair: tuple[Path, Path]) -> subprocess.CompletedProcess:
            source, obj = pair
            return subprocess.run([*prefix, *compile_flags, "-c", str(source), "-o", str(obj)], env=env,
                                  capture_output=True, text=True, check=False)

        with ThreadPoolExecutor(max_workers=jobs or os.cpu_count() or 1) as pool:
            compiled = list(pool.map(compile_unit, zip(sources, objects)))
        failed = next((run for run in compiled if run.returncode != 0), None)
        if failed is not None:
            return failed
        return subprocess.run([cc, *compile_flags, *map(str, objects), *link_flags, "-o", str(out)],
                              capture_output=True, text=True, check=False)
