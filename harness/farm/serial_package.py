"""Which distribution's files the ``serial`` package has. pyserial and labgrid's pyserial-labgrid both install it,
and the one pip installed last wins; a farm's RFC 2217 ports (through ser2net) need pyserial-labgrid's, since plain
pyserial 3.5 renegotiates every port setting whenever the read timeout changes and loses bytes through ser2net
(measured: image CRC mismatches and lost HELLOs under load; docs/notes/labgrid.md has the overlap).

    python -m harness.farm.serial_package --check    exit 1 if the farm extra is installed but its serial is not
"""

from __future__ import annotations

import sys
from importlib import metadata

FIX = "pip install --force-reinstall --no-deps pyserial-labgrid (./setup.sh does)"


def farm_serial_problem() -> str | None:
    """Why ``serial`` is not usable for a farm's RFC 2217 ports, or None."""
    try:
        import serial
        import serial.rfc2217  # noqa: F401
    except ImportError as exc:
        return f"the serial package is broken ({exc}): {FIX}"
    try:
        fork = metadata.version("pyserial-labgrid")
    except metadata.PackageNotFoundError:
        return None  # no farm extra: plain pyserial is the one
    if serial.VERSION != fork:
        return (f"the serial package is pyserial {serial.VERSION}'s, not pyserial-labgrid {fork}'s, whose RFC 2217 "
                f"client a farm's ser2net ports need: {FIX}")
    return None


if __name__ == "__main__":
    problem = farm_serial_problem()
    if problem:
        print(problem, file=sys.stderr)
    sys.exit(1 if problem else 0)
