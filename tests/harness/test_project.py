"""harness/project.py: the source tree and the workspace, each found one way, and overridable."""

import subprocess
from pathlib import Path

import pytest

from harness import project
from harness.errors import DependencyError
from harness.history.store import default_location

ROOT = Path(__file__).resolve().parents[2]


def test_the_source_is_this_checkout_and_holds_what_the_builds_need(monkeypatch):
    monkeypatch.delenv("HARNESS_SOURCE", raising=False)
    src = project.source()
    assert src.root == ROOT and src.boards_yaml.is_file() and (src.models / "default.npz").is_file()
    assert (src.firmware / "app" / "device.c").is_file() and src.calibration.is_dir()


def test_a_source_elsewhere_is_taken_and_a_wrong_one_is_one_line(monkeypatch, tmp_path):
    monkeypatch.setenv("HARNESS_SOURCE", str(ROOT))
    assert project.source().root == ROOT
    monkeypatch.setenv("HARNESS_SOURCE", str(tmp_path))
    with pytest.raises(DependencyError, match=r"^the harness's source tree .* is not at .*: install the package "
                                              r"from a checkout \(pip install -e \.\) or set HARNESS_SOURCE"):
        project.source()


def test_the_workspace_is_the_git_work_tree_of_the_current_folder_and_the_history_lives_there(monkeypatch,
                                                                                             tmp_path):
    monkeypatch.delenv("HARNESS_WORKSPACE", raising=False)
    repo = tmp_path / "user-project"
    (repo / "sub").mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    monkeypatch.chdir(repo / "sub")
    where = project.workspace()
    assert where.root.resolve() == repo.resolve()
    assert default_location().resolve() == (repo / ".harness" / "history.sqlite").resolve()
    assert where.baselines == where.root / "fixtures" / "baselines"
    monkeypatch.setenv("HARNESS_WORKSPACE", str(tmp_path / "elsewhere"))
    assert project.workspace().history == tmp_path / "elsewhere" / ".harness" / "history.sqlite"
