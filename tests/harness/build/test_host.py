import time

import pytest

from harness.build.host import build_host_library
from harness.errors import BuildError, DependencyError


def test_build_is_cached_by_content(tmp_path):
    first = build_host_library(tmp_path)
    t0 = time.perf_counter()
    again = build_host_library(tmp_path)
    assert again == first and first.path.is_file() and time.perf_counter() - t0 < 1.0
    assert len(list(tmp_path.glob("*.so"))) == 1


def test_missing_compiler_names_the_install_command(tmp_path):
    with pytest.raises(DependencyError, match="apt-get install gcc"):
        build_host_library(tmp_path, cc="no-such-cc-here")


def test_failed_compile_is_one_line_with_the_exit_status(tmp_path):
    with pytest.raises(BuildError, match=r"host kernel build failed \(false exit 1\)") as err:
        build_host_library(tmp_path, cc="false")
    assert "\n" not in str(err.value) and not list(tmp_path.glob("*.so"))
