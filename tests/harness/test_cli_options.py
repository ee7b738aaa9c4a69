"""One options table (harness/options.py) for the CLI and the pytest plugin: an option both take has the same name,
meaning, default and help on both sides unless a side says otherwise; ``--model`` takes a path and a name alike."""

import json
import subprocess
from pathlib import Path
from types import SimpleNamespace

import pytest

from harness import plugin
from harness.cli import build_parser, main
from harness.options import DEFAULT_MODEL, TABLE, model_name, model_path
from tests.sessions import PYTEST

ROOT = Path(__file__).resolve().parents[2]
SHARED = ("--board", "--boards-file", "--model", "--fixtures-dir", "--baud", "--portable", "--pyocd-pack", "--probe",
          "--allow-clock-fallback", "--history")
PLUGIN_CHANGES = {"--board", "--baud", "--probe", "--fixtures-dir"}  # harness/plugin_options.py OPTIONS


def _cli_actions() -> dict[str, list]:
    """Every option of every `harness` subcommand: {"--model": [argparse actions …]}."""
    found: dict[str, list] = {}
    parsers = [build_parser()]
    while parsers:
        for action in parsers.pop()._actions:
            if action.choices and isinstance(action.choices, dict):  # subcommands
                parsers.extend(action.choices.values())
            for name in action.option_strings:
                found.setdefault(name, []).append(action)
    return found


def _pytest_options(labgrid_blocked: bool = False) -> dict[str, dict]:
    """What the plugin's pytest_addoption gives pytest: {"--model": addoption keywords}."""
    added: dict[str, dict] = {}
    group = SimpleNamespace(addoption=lambda name, **kwargs: added.setdefault(name, kwargs))
    plugin.pytest_addoption(SimpleNamespace(getgroup=lambda *_: group),
                            SimpleNamespace(is_blocked=lambda name: labgrid_blocked and name == "labgrid"))
    added.pop("--lg-coordinator", None)  # labgrid's option when its plugin does not load: not the table's
    return added


def test_lg_coordinator_is_labgrids_option_or_else_the_plugins():
    added: dict[str, dict] = {}
    group = SimpleNamespace(addoption=lambda name, **kwargs: added.setdefault(name, kwargs))
    plugin.pytest_addoption(SimpleNamespace(getgroup=lambda *_: group), SimpleNamespace(is_blocked=lambda _: True))
    assert added["--lg-coordinator"]["dest"] == "lg_coordinator"  # where labgrid's plugin would put it


def test_both_sides_take_the_shared_options_with_one_meaning():
    cli, pytest_side = _cli_actions(), _pytest_options()
    assert set(pytest_side) == {name for name in TABLE}  # the plugin's options all come from the table
    for name in SHARED:
        assert name in pytest_side and cli.get(name), name
        meaning = TABLE[name].meaning
        assert pytest_side[name]["help"].startswith(meaning), name
        assert all(a.help.startswith(meaning) and "Default: " in a.help for a in cli[name]), name
        if name not in PLUGIN_CHANGES:  # some command takes it exactly as pytest does: default and help
            kw = pytest_side[name]
            default = kw.get("default", False if kw.get("action") == "store_true" else None)
            same = [a for a in cli[name] if (a.default, a.help) == (default, kw["help"])]
            assert same, f"{name}: no command has pytest's default and help"


def test_every_model_option_is_one_resolver():
    cli = _cli_actions()
    assert all(a.type is model_path for a in cli["--model"]) and _pytest_options()["--model"]["type"] is model_path
    assert {a.default for a in cli["--model"]} == {DEFAULT_MODEL, None}  # None: history's "the only one recorded"


@pytest.mark.parametrize("spec, path", [
    ("default", DEFAULT_MODEL),
    (DEFAULT_MODEL, DEFAULT_MODEL),
    ("fixtures/models/default.npz", "fixtures/models/default.npz"),
    ("m.npz", "m.npz"),
    ("a/b", "a/b"),
    ("", ""),
])
def test_model_resolves_a_path_or_a_name(spec, path):
    assert model_path(spec) == path


def test_an_existing_file_is_a_path_not_a_name(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "mymodel").write_text("")
    assert model_path("mymodel") == "mymodel" and model_name(model_path("default")) == "default"


def test_cli_model_by_name_or_path_is_the_same_model(capsys):
    ids = []
    for spec in ("default", DEFAULT_MODEL, "fixtures/models/default.npz"):
        assert main(["model", "info", spec, "--json"]) == 0
        ids.append(json.loads(capsys.readouterr().out)["model_id"])
    assert main(["model", "info", "--json"]) == 0
    ids.append(json.loads(capsys.readouterr().out)["model_id"])
    assert len(set(ids)) == 1
    assert main(["model", "info", "--json", "no-such-model"]) == 2
    assert "no model 'no-such-model' in fixtures/models/ (it has default" in capsys.readouterr().err


def test_pytest_model_by_name_or_path_is_the_same_file(tmp_path):
    (tmp_path / "test_model.py").write_text("def test_model(pytestconfig):\n"
                                            "    print('MODEL', pytestconfig.getoption('model'))\n")
    seen = []
    for spec in ("default", DEFAULT_MODEL, None):
        args = ["--model", spec] if spec else []
        run = subprocess.run([*PYTEST, "-q", "-s", *args],
                             cwd=tmp_path, capture_output=True, text=True, timeout=60)
        assert run.returncode == 0, run.stdout + run.stderr
        seen += [line.split(" ", 1)[1] for line in run.stdout.splitlines() if line.startswith("MODEL ")]
    assert seen == [DEFAULT_MODEL] * 3
