"""Markers of the tests that need the cross toolchain and QEMU: marked ``emulator``, skipped with the install
command when a tool is missing."""

import shutil

import pytest

EMULATOR = [
    pytest.mark.emulator,
    pytest.mark.skipif(shutil.which("arm-none-eabi-gcc") is None,
                       reason="needs arm-none-eabi-gcc: apt-get install gcc-arm-none-eabi libnewlib-arm-none-eabi"),
    pytest.mark.skipif(shutil.which("qemu-system-arm") is None,
                       reason="needs qemu-system-arm: apt-get install qemu-system-arm"),
]


def needs_emulator(test):
    """The EMULATOR marks on one test (for modules whose other tests need no emulator)."""
    for mark in EMULATOR:
        test = mark(test)
    return test


def alive(pid: int) -> bool:
    """Whether process ``pid`` still runs (a zombie does not)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except FileNotFoundError:
        return False
