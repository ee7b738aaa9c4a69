"""An installed package finds the source tree as an editable one does (harness/project.py): every tracked file of
firmware/, fixtures/, Renode/ and boards.yaml is listed in pyproject.toml's data-files, at the same relative path
under <prefix>/share/harness."""

import subprocess
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED = ("firmware", "fixtures", "Renode", "boards.yaml")


def test_every_file_of_the_source_tree_is_shipped_at_its_own_path():
    table = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["setuptools"]["data-files"]
    installed = set()
    for target, patterns in table.items():
        folder = target.removeprefix("share/harness").strip("/")
        for pattern in patterns:
            for path in ROOT.glob(pattern):
                assert path.parent.relative_to(ROOT).as_posix().strip(".") == folder, (target, pattern)
                installed.add(path.relative_to(ROOT).as_posix())
    tracked = set(subprocess.run(["git", "ls-files", *SHIPPED], cwd=ROOT, capture_output=True, text=True,
                                 check=True).stdout.split())
    assert tracked, "no tracked files: is this a git checkout?"
    assert sorted(tracked - installed) == [], "add their folders to [tool.setuptools.data-files] in pyproject.toml"
