"""Where things are, in one place. Two roots, each found one way, the same whether the package is installed from a
checkout or editable:

* the **source**: the harness's own tree — ``firmware/``, ``fixtures/`` (models, scenes, calibration),
  ``boards.yaml``, ``Renode/`` — and the build caches under its ``.harness/`` (keyed by content, shared by every
  workspace). It is ``$HARNESS_SOURCE`` if set, else the checkout an editable package runs from, else
  ``<prefix>/share/harness``, where a wheel installs the same tree (pyproject.toml's data-files).
* the **workspace**: where a session's results go — the history (``.harness/history.sqlite``), the committed
  baselines (``fixtures/baselines/``) and the thresholds (``pyproject.toml``). It is ``$HARNESS_WORKSPACE`` if set,
  else the top of the git work tree holding the current directory, else the current directory. In the harness's own
  checkout both roots are the same folder.
"""

from __future__ import annotations

import os
import sys
from dataclasses import dataclass
from pathlib import Path

from harness.errors import DependencyError

_PACKAGE_CHECKOUT = Path(__file__).resolve().parents[1]
_INSTALLED = Path(sys.prefix) / "share" / "harness"


def _is_source(root: Path) -> bool:
    return (root / "firmware").is_dir() and (root / "boards.yaml").is_file()


def _source_root() -> Path:
    env = os.environ.get("HARNESS_SOURCE")
    if env:
        return Path(env)
    return _PACKAGE_CHECKOUT if _is_source(_PACKAGE_CHECKOUT) or not _is_source(_INSTALLED) else _INSTALLED


@dataclass(frozen=True)
class Source:
    root: Path

    firmware = property(lambda self: self.root / "firmware")
    fixtures = property(lambda self: self.root / "fixtures")
    models = property(lambda self: self.root / "fixtures" / "models")
    calibration = property(lambda self: self.root / "fixtures" / "calibration")
    boards_yaml = property(lambda self: self.root / "boards.yaml")
    renode = property(lambda self: self.root / "Renode")
    cache = property(lambda self: self.root / ".harness")          # build caches, keyed by content
    build_cache = property(lambda self: self.root / ".harness" / "build")
    host_cache = property(lambda self: self.root / ".harness" / "host")


@dataclass(frozen=True)
class Workspace:
    root: Path

    state = property(lambda self: self.root / ".harness")
    history = property(lambda self: self.root / ".harness" / "history.sqlite")
    baselines = property(lambda self: self.root / "fixtures" / "baselines")
    pyproject = property(lambda self: self.root / "pyproject.toml")


def source() -> Source:
    """The harness's own tree (module docstring); a one-line DependencyError if it is not there."""
    root = _source_root()
    if not _is_source(root):
        raise DependencyError(f"the harness's source tree (firmware/, fixtures/, boards.yaml) is not at {root}: "
                              f"install the package from a checkout (pip install -e .) or set HARNESS_SOURCE to one")
    return Source(root)


def workspace(cwd: Path | None = None) -> Workspace:
    """Where results go (module docstring)."""
    env = os.environ.get("HARNESS_WORKSPACE")
    if env:
        return Workspace(Path(env))
    from harness.history.provenance import git_root

    cwd = Path.cwd() if cwd is None else Path(cwd)
    return Workspace(git_root(cwd) or cwd)


SOURCE = Source(_source_root())  # for module-level constants
