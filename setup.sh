#!/usr/bin/env bash
# Sets up everything the harness needs on a fresh Debian 12 machine: C compilers (host and arm-none-eabi), QEMU,
# and a virtual environment in .venv with the package, its dev tools and the [torch] and [farm] extras. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

# Debian packages the project needs; installed when missing (as root, or through sudo).
apt_install() {
  local missing=()
  for pkg in "$@"; do dpkg -s "$pkg" >/dev/null 2>&1 || missing+=("$pkg"); done
  [ ${#missing[@]} -eq 0 ] && return 0
  local sudo=""
  [ "$(id -u)" -eq 0 ] || sudo="sudo"
  if ! command -v apt-get >/dev/null || { [ -n "$sudo" ] && ! command -v sudo >/dev/null; }; then
    echo "setup: please install: ${missing[*]} (Debian: apt-get install ${missing[*]})" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]} …" >&2
  $sudo apt-get update -qq >/dev/null && $sudo apt-get install -y -qq "${missing[@]}" >/dev/null
}

# The C kernels are compiled for the host (tests check them against the NumPy reference), and for the Cortex-M4,
# whose firmware runs on QEMU's STM32F405 (netduinoplus2).
command -v "${CC:-cc}" >/dev/null || apt_install gcc libc6-dev
# ser2net: a labgrid exporter serves its boards' serial ports through it (RFC 2217); the farm tests use it too.
# ccache: builds compile the kernels every firmware variant shares once (harness/build/compile.py).
apt_install gcc-arm-none-eabi libnewlib-arm-none-eabi qemu-system-arm ser2net ccache

py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Python >= 3.11 is needed (found: $("$py" --version 2>&1)); on Debian: apt-get install python3 python3-venv" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  # Debian's own Python needs python3-venv for `-m venv`; other Pythons (pyenv, python.org) bring it.
  "$py" -c 'import ensurepip' 2>/dev/null || apt_install python3-venv
  "$py" -m venv .venv || { rm -rf .venv; echo "setup: could not create .venv with $py" >&2; exit 1; }
fi
echo "setup: installing the harness into .venv (first run takes a few minutes: PyTorch CPU) …" >&2
# --no-compile: Python compiles a module's bytecode when it is first imported; compiling every installed module up
# front (all of PyTorch) took longer than the install itself.
if ! .venv/bin/python -m pip install --disable-pip-version-check --no-compile -e '.[dev,torch,farm]' > .venv/setup.log 2>&1; then
  tail -n 20 .venv/setup.log >&2
  echo "setup: pip install failed; the whole log is in .venv/setup.log" >&2
  exit 1
fi
# pyserial and labgrid's pyserial-labgrid install the same `serial` package, and whichever pip installed last owns
# its files. The farm's RFC 2217 ports need the fork's (plain pyserial 3.5 renegotiates the port on every timeout
# change and loses bytes through ser2net); uninstalling either breaks `serial` while `pip check` stays silent.
if ! .venv/bin/python -m harness.farm.serial_package --check 2>/dev/null; then
  echo "setup: reinstalling pyserial-labgrid's serial package (it shares its files with pyserial) …" >&2
  .venv/bin/python -m pip install --disable-pip-version-check --no-compile --force-reinstall --no-deps \
    pyserial-labgrid >> .venv/setup.log 2>&1
fi
echo "setup: done; the command is .venv/bin/harness" >&2
