"""harness/build/compile.py: unit by unit, through ccache, the same binary as a one-shot compile; a unit that reads
no changed -D comes from the cache, one that reads it is compiled again."""

import shutil
import subprocess

import pytest

from harness.build import compile as units
from harness.build import cross, linker
from harness.build.host import FIRMWARE, kernel_sources

LEAVES = ("rp_sigmoid_q14", "rp_tanh_q14")  # with basic/: kernels that need no other
KERNELS = [k for k in kernel_sources() if k.parent.name == "basic" or k.stem in LEAVES]
MAIN = '#include <stdio.h>\nint main(void) { printf("%d\\n", ANSWER); return 0; }\n'
needs_ccache = pytest.mark.skipif(shutil.which("ccache") is None, reason="needs ccache: apt-get install ccache")
needs_arm_gcc = pytest.mark.skipif(shutil.which(cross.CC) is None, reason=f"needs {cross.CC}: {cross.INSTALL}")


@pytest.fixture(autouse=True)
def private_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("CCACHE_DIR", str(tmp_path / "ccache"))


def host_flags(answer: int) -> list[str]:
    return ["-std=c11", "-O2", "-Wall", "-Werror", f"-DANSWER={answer}", f"-I{FIRMWARE / 'include'}"]


def one_shot(cc: str, flags: list[str], sources: list, out, link: list[str] = ()) -> bytes:
    subprocess.run([cc, *flags, *map(str, sources), *link, "-o", str(out)], check=True, capture_output=True)
    return out.read_bytes()


def cache_hits() -> int:
    stats = subprocess.run(["ccache", "--print-stats"], capture_output=True, text=True, check=True).stdout
    counters = dict(line.split("\t") for line in stats.splitlines())
    return int(counters["direct_cache_hit"]) + int(counters["preprocessed_cache_hit"])


@pytest.mark.parametrize("wrapper", ["ccache", "none"])
def test_the_host_executable_equals_a_one_shot_compile(tmp_path, monkeypatch, wrapper):
    if wrapper == "ccache" and shutil.which("ccache") is None:
        pytest.skip("needs ccache: apt-get install ccache")
    monkeypatch.setenv("HARNESS_CCACHE", "1" if wrapper == "ccache" else "0")
    (main := tmp_path / "main.c").write_text(MAIN)
    run = units.compile_and_link("cc", host_flags(42), [*KERNELS, main], tmp_path / "units")
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "units").read_bytes() == one_shot("cc", host_flags(42), [*KERNELS, main], tmp_path / "once")
    assert subprocess.run([tmp_path / "units"], capture_output=True, text=True).stdout == "42\n"


@needs_arm_gcc
def test_the_m4_elf_equals_a_one_shot_compile(tmp_path):
    (main := tmp_path / "main.c").write_text("int main(void) { for (;;) {} }\n")
    sources = [*KERNELS, *cross.runtime_sources(), main]
    flags = [*cross.flags(board=cross.DEFAULT_BOARD), *cross.SPECS, f"-I{FIRMWARE / 'include'}",
             f"-I{FIRMWARE / 'runtime'}"]
    link = [*cross.LDFLAGS, f"-T{linker.write_script(cross.DEFAULT_BOARD, tmp_path / 'm4.ld', 4096)}"]
    run = units.compile_and_link(cross.CC, flags, sources, tmp_path / "units.elf", link)
    assert run.returncode == 0, run.stderr
    assert (tmp_path / "units.elf").read_bytes() == one_shot(cross.CC, flags, sources, tmp_path / "once.elf", link)


@needs_ccache
def test_a_define_only_the_main_unit_reads_recompiles_only_that_unit(tmp_path, monkeypatch):
    monkeypatch.setenv("HARNESS_CCACHE", "1")
    (main := tmp_path / "main.c").write_text(MAIN)
    for answer in (1, 2):
        run = units.compile_and_link("cc", host_flags(answer), [*KERNELS, main], tmp_path / f"answer{answer}")
        assert run.returncode == 0, run.stderr
    assert cache_hits() == len(KERNELS)  # the kernels the second time, not main.c, whose ANSWER changed
    assert subprocess.run([tmp_path / "answer2"], capture_output=True, text=True).stdout == "2\n"


def test_a_unit_that_fails_is_what_comes_back(tmp_path):
    (broken := tmp_path / "broken.c").write_text("int f(void) { return missing; }\n")
    run = units.compile_and_link("cc", host_flags(0), [KERNELS[0], broken], tmp_path / "out")
    assert run.returncode != 0 and "broken.c" in run.stderr and "missing" in run.stderr
    assert not (tmp_path / "out").exists()
