"""Board backends: what runs a board's firmware, in one table. Everything that depends on the backend — which
boards.yaml keys a profile takes, the toolchain, the target class, whether the board is silicon on a serial port,
what its ticks count, whether the clock it reports means anything — is read from here, never from
``backend == "…"`` tests elsewhere. Adding a backend is one entry here plus its target module (and a
``build/`` module if it needs another toolchain): see docs/architecture.md.

Light on purpose: ``harness.boards`` imports it when pytest loads the plugin.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass


@dataclass(frozen=True)
class Backend:
    name: str
    target: str                  # "module:Class" of its harness.targets.base.Target, imported when opened
    key: str | None              # the boards.yaml setting that names what runs the firmware (machine, platform, …)
    optional: tuple[str, ...]    # further boards.yaml settings of this backend
    toolchain: str               # "arm": arm-none-eabi-gcc for the Cortex-M4; "host": the host's cc
    emulator: str | None         # what runs the firmware when it is not silicon (a profile's ``emulator:`` may add one)
    tick_unit: str | None        # what its ticks count; None: the chip's counter decides (cycles or timer ticks)
    on_serial_port: bool         # a board on the bench: its serial port is given, it is flashed through a probe
    models_clock: bool           # the clock the firmware reports is real (QEMU has no RCC; a host has no clock tree)
    chip: bool = True            # its profile describes an STM32 chip (mcu, memory, clock, counter) to build for

    def target_class(self):
        module, _, cls = self.target.partition(":")
        return getattr(importlib.import_module(module), cls)


BACKENDS: dict[str, Backend] = {b.name: b for b in (
    Backend("qemu", "harness.targets.qemu:QemuTarget", "machine", (), "arm", "qemu", "instructions",
            on_serial_port=False, models_clock=False),
    Backend("renode", "harness.targets.renode:RenodeTarget", "platform", (), "arm", "renode", "instructions",
            on_serial_port=False, models_clock=True),
    Backend("pyocd", "harness.targets.pyocd_target:PyocdTarget", "pyocd_target",
            ("pack", "frequency", "probe", "connect_mode", "emulator"), "arm", None, None,
            on_serial_port=True, models_clock=True),
    Backend("host", "harness.targets.host:HostTarget", None, (), "host", "host", "host nanoseconds",
            on_serial_port=False, models_clock=False, chip=False),
)}


def backend(name: str) -> Backend:
    return BACKENDS[name]
