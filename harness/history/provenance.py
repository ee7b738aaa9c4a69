"""Where a run was made: the commit (and whether the work tree had uncommitted changes), the branch, the time, the
host and the versions of the Python packages that shape the results. Keyed history is what makes a regression
traceable to a change rather than to a new runner or toolchain."""

from __future__ import annotations

import datetime as dt
import os
import platform
import socket
import subprocess
from importlib import metadata
from pathlib import Path

PACKAGES = ("harness", "numpy", "opencv-python-headless", "pyserial", "pyocd", "pytest")
# CI systems check out a detached HEAD; they name the branch in the environment.
BRANCH_VARIABLES = ("GITHUB_HEAD_REF", "GITHUB_REF_NAME", "CI_COMMIT_REF_NAME", "BRANCH_NAME", "GIT_BRANCH")


def _git(root: Path, *args: str) -> str | None:
    try:
        out = subprocess.run(["git", "-C", str(root), *args], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def git_root(start: Path | None = None) -> Path | None:
    top = _git(Path(start or Path.cwd()), "rev-parse", "--show-toplevel")
    return Path(top) if top else None


def commits_of(spec: str, root: Path | None = None, first_parent: bool = True, limit: int | None = None
               ) -> list[str] | None:
    """``A..B`` or a ref → its commits, newest first (git rev-list); None when git cannot resolve it."""
    args = ["rev-list", *(["--first-parent"] if first_parent else []), *([f"--max-count={limit}"] if limit else []),
            spec]
    out = _git(root or Path.cwd(), *args)
    return out.split() if out is not None else None


def package_versions() -> dict[str, str]:
    versions = {"python": platform.python_version()}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return versions


def provenance(root: Path | None = None) -> dict:
    """commit, dirty, branch, time, host, packages; outside git the commit and branch are empty."""
    root = git_root(root) or Path(root or Path.cwd())
    commit = _git(root, "rev-parse", "HEAD") or ""
    # Tracked changes only: untracked outputs (pictures, reports) do not change what was measured.
    dirty = bool(commit) and bool(_git(root, "status", "--porcelain", "--untracked-files=no"))
    branch = _git(root, "rev-parse", "--abbrev-ref", "HEAD") or ""
    if branch in ("", "HEAD"):
        branch = next((os.environ[v] for v in BRANCH_VARIABLES if os.environ.get(v)), branch)
    return {"commit": commit, "dirty": dirty, "branch": branch,
            "time": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"), "host": socket.gethostname(),
            "packages": package_versions()}
