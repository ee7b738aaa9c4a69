"""One error hierarchy for the whole harness.

    HarnessError                 root; the CLI prints str(err) on one line and exits with its exit_code: 2
    ├── UsageError               bad command-line input (unknown arch, bad option value)
    │   └── BoardsError          boards.yaml breaks its schema, or names no such board
    ├── InputError               a file we were given is missing, unreadable or not what it claims
    │   └── ImageError           not an image OpenCV can read
    ├── ModelError               model file invalid, wrong format, hash mismatch, missing quantisation
    │   └── CheckpointError      an EdgeML checkpoint that cannot be mapped onto an architecture
    ├── CodegenError             a model cannot be turned into C (e.g. an inconsistent memory plan)
    ├── BuildError               a compiler run failed (message: command, exit status, last lines of its output)
    ├── DependencyError          an optional package or a tool is missing (message names the install command)
    ├── FarmError                the board farm (labgrid coordinator, exporter, flash agent, a network serial
    │                            port) is unreachable, or the place was lost: infrastructure, not a test outcome
    ├── TargetError              the board or emulator misbehaved (did not start, crashed, hung)
    │   ├── TargetTimeout        no answer within the time allowed
    │   ├── DeviceFault          the firmware reported a fault (HardFault: names the layer and the cause)
    │   ├── DeviceRebooted       the board restarted by itself mid-conversation (names the reset cause)
    │   ├── LinkError            the device answers, but the line is too noisy to get a request through (says what
    │   │                        arrived: damaged frames, NAKs, retransmissions); never a reason to reset it
    │   └── ClockError           the board runs at another clock than its profile says (names both)
    ├── ProtocolError            what the firmware sent is missing or malformed
    ├── MismatchError            the firmware computed something other than the reference (names the layer);
    │                            a test outcome, exit_code 1 (the policy: harness/cli/__init__.py)
    └── HistoryError             the history store is unreachable, corrupt, or from a newer harness

Library exceptions are translated at the boundary with ``raise ... from``.
"""

from __future__ import annotations


class HarnessError(Exception):
    """Root of every error the harness raises on purpose."""

    exit_code = 2  # a usage or environment error


class UsageError(HarnessError):
    """The command line or an argument is wrong."""


class BoardsError(UsageError):
    """``boards.yaml`` is unreadable or breaks its schema, or a board name is not in it."""


class InputError(HarnessError):
    """An input file is missing or unreadable."""


class ImageError(InputError):
    """A file that should be an image is not one OpenCV can read."""


class ModelError(HarnessError):
    """A model file is invalid or lacks what the caller needs."""


class CheckpointError(ModelError):
    """An EdgeML checkpoint does not match the requested architecture."""


class DependencyError(HarnessError):
    """An optional dependency or external tool is missing."""


class FarmError(HarnessError):
    """The board farm failed: the labgrid coordinator or an exporter is unreachable, the flash agent beside the probe
    or a network serial port is, or the place was taken away mid-session."""


class TargetError(HarnessError):
    """The board or emulator did not start, crashed or stopped answering."""


class TargetTimeout(TargetError):
    """The target gave no answer within the time allowed."""


class DeviceFault(TargetError):
    """The firmware took a fault and said so (a FAULT frame): retrying would only fault again."""


class DeviceRebooted(TargetError):
    """The board restarted while the host waited for an answer (its boot banner arrived)."""


class LinkError(TargetError):
    """The firmware is alive (bytes arrive) but no intact answer got through within the link's time budget."""


class ClockError(TargetError):
    """The board's clock differs from its profile (a fallback after an HSE or PLL timeout)."""


class ProtocolError(HarnessError):
    """The firmware's output is missing or malformed."""


class MismatchError(HarnessError):
    """The firmware's result differs from the reference."""

    exit_code = 1  # a test outcome


class BuildError(HarnessError):
    """Compiling firmware or the host kernel library failed."""


class CodegenError(HarnessError):
    """Generating C from a model failed (inconsistent buffers, unsupported layer)."""


__all__ = [
    "BoardsError",
    "BuildError",
    "CheckpointError",
    "ClockError",
    "CodegenError",
    "DependencyError",
    "DeviceFault",
    "DeviceRebooted",
    "HarnessError",
    "ImageError",
    "InputError",
    "LinkError",
    "MismatchError",
    "ModelError",
    "ProtocolError",
    "TargetError",
    "TargetTimeout",
    "UsageError",
]


class HistoryError(HarnessError):
    """The history store cannot be opened, read or written (names the store and the fix)."""
