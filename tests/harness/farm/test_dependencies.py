"""The [farm] extra next to the plain install: labgrid's pyserial-labgrid installs the same ``serial`` package as
pyserial (docs/notes/labgrid.md). With both installed ``serial`` still imports with what the harness uses (RFC 2217
and socket URLs), and ``pip check`` passes; setup.sh repairs the package if either was uninstalled."""

import subprocess
import sys
from importlib import metadata

import pytest


def test_serial_imports_with_the_url_handlers_the_farm_uses():
    import serial
    import serial.rfc2217  # noqa: F401
    import serial.urlhandler.protocol_socket  # noqa: F401

    assert callable(serial.serial_for_url)


def test_pip_check_passes():
    run = subprocess.run([sys.executable, "-m", "pip", "check"], capture_output=True, text=True)
    assert run.returncode == 0, run.stdout + run.stderr


def test_both_distributions_own_the_serial_package_when_the_farm_extra_is_installed():
    try:
        metadata.distribution("labgrid")
    except metadata.PackageNotFoundError:
        pytest.skip("the [farm] extra is not installed: pip install -e '.[farm]'")
    owners = [d for d in ("pyserial", "pyserial-labgrid")
              if any(str(f).startswith("serial/") for f in metadata.distribution(d).files or ())]
    assert owners == ["pyserial", "pyserial-labgrid"]
    # the fork's files win (setup.sh sees to it): its RFC 2217 client is the one that works through ser2net
    from harness.farm.serial_package import farm_serial_problem

    assert farm_serial_problem() is None
