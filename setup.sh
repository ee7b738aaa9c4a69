#!/usr/bin/env bash
# Sets up everything the harness needs on a fresh Debian 12 machine: a virtual environment in .venv with the
# package, its dev tools and the [torch] extra. Safe to run again; it only installs what is missing.
set -euo pipefail
cd "$(dirname "$0")"

py=${PYTHON:-python3}
if ! "$py" -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "setup: Python >= 3.11 is needed (found: $("$py" --version 2>&1)); on Debian: apt-get install python3 python3-venv" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ]; then
  "$py" -m venv .venv || { echo "setup: could not create .venv; on Debian: apt-get install python3-venv" >&2; exit 1; }
fi
echo "setup: installing the harness into .venv (first run takes a few minutes: PyTorch CPU) …" >&2
if ! .venv/bin/python -m pip install --disable-pip-version-check -e '.[dev,torch]' > .venv/setup.log 2>&1; then
  tail -n 20 .venv/setup.log >&2
  echo "setup: pip install failed; the whole log is in .venv/setup.log" >&2
  exit 1
fi
echo "setup: done; the command is .venv/bin/harness" >&2
