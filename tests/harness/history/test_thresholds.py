"""[tool.harness.thresholds]: defaults, families, overrides by name and glob, and one-line errors."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from harness.errors import UsageError
from harness.history.thresholds import DEFAULTS, Threshold, defaults, load_thresholds, parse_table

ROOT = Path(__file__).resolve().parents[3]
SOURCE = "pyproject.toml [tool.harness.thresholds]"


def _pyproject(tmp_path: Path, table: str) -> Path:
    path = tmp_path / "pyproject.toml"
    path.write_text(f'[project]\nname = "x"\n\n[tool.harness.thresholds]\n{table}\n')
    return path


def _error(tmp_path: Path, table: str) -> str:
    with pytest.raises(UsageError) as err:
        load_thresholds(_pyproject(tmp_path, table))
    message = str(err.value)
    assert "\n" not in message and message.startswith(SOURCE)
    return message


def test_defaults():
    t = defaults()
    assert t.source == "defaults" and t.alpha == 0.01
    assert {k: str(v) for k, v in t.rules.items()} == {
        "instructions": "0.1%", "memory": "0", "fingerprints": "0", "agreement": "0", "ap50": "0.005",
        "fixed_float": "0.01", "cycles": "2%"}


def test_the_projects_table_states_the_defaults():
    t = load_thresholds(ROOT / "pyproject.toml")
    assert t.source == SOURCE and t.rules == DEFAULTS and t.alpha == 0.01


def test_a_pyproject_without_the_table_gives_the_defaults(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text('[project]\nname = "x"\n')
    assert load_thresholds(path) == defaults()


def test_families_of_metrics():
    t = defaults()
    assert t.for_metric("latency.total", "instructions") == Threshold(0.1, True)
    assert t.for_metric("latency.layer.mb3", "instructions") == Threshold(0.1, True)
    assert t.for_metric("latency.total", "cycles") == Threshold(2.0, True)
    assert t.for_metric("memory.stack_bytes", "cycles") == Threshold(0.0, False)
    assert t.for_metric("fingerprints.changed", "instructions") == Threshold(0.0, False)
    assert t.for_metric("agreement.device_reference", "instructions") == Threshold(0.0, False)
    assert t.for_metric("agreement.fixed_float", "instructions") == Threshold(0.01, False)
    assert t.for_metric("accuracy.ap50", "instructions") == Threshold(0.005, False)
    with pytest.raises(ValueError):
        t.for_metric("latency_total", "instructions")


def test_exact_name_beats_longest_glob_beats_family(tmp_path):
    t = load_thresholds(_pyproject(tmp_path, '''\
memory = 16
"memory.stack_bytes" = 64
"latency.*" = "3%"
"latency.layer.*" = "1%"
"latency.layer.head*" = "5%"
"latency.layer.head1.conf" = 1000
instructions = "0.5%"
alpha = 0.05'''))
    assert t.source == SOURCE and t.alpha == 0.05
    assert t.for_metric("memory.stack_bytes", "instructions") == Threshold(64, False)
    assert t.for_metric("memory.arena_bytes", "instructions") == Threshold(16, False)
    assert t.for_metric("latency.layer.head1.conf", "cycles") == Threshold(1000, False)
    assert t.for_metric("latency.layer.head1.loc", "cycles") == Threshold(5, True)
    assert t.for_metric("latency.layer.mb3", "instructions") == Threshold(1, True)
    assert t.for_metric("latency.total", "instructions") == Threshold(3, True)
    assert t.for_metric("accuracy.ap50", "instructions") == Threshold(0.005, False)  # untouched families keep theirs


def test_unquoted_dotted_keys_name_metrics_too(tmp_path):
    t = load_thresholds(_pyproject(tmp_path, "memory.stack_bytes = 64\naccuracy.ap50 = 0.02"))
    assert t.for_metric("memory.stack_bytes", "instructions") == Threshold(64, False)
    assert t.for_metric("accuracy.ap50", "instructions") == Threshold(0.02, False)


def test_percentages_and_numbers():
    t = parse_table({"instructions": "0.25 %", "cycles": "5%", "memory": 128, "ap50": 0.01}, "x")
    assert (t.rules["instructions"], t.rules["cycles"]) == (Threshold(0.25, True), Threshold(5, True))
    assert (t.rules["memory"], t.rules["ap50"]) == (Threshold(128, False), Threshold(0.01, False))
    assert [str(t.rules[k]) for k in ("instructions", "memory", "ap50")] == ["0.25%", "128", "0.01"]


def test_exceeded_means_worse_by_more_than_the_limit():
    rel, exact, drop = Threshold(0.1, True), Threshold(0, False), Threshold(0.005, False)
    assert not rel.exceeded(1_000_000, 1_001_000, lower_is_better=True)  # exactly 0.1 %
    assert rel.exceeded(1_000_000, 1_001_001, lower_is_better=True)
    assert not rel.exceeded(1_000_000, 900_000, lower_is_better=True)  # faster
    assert exact.exceeded(110400, 110401, lower_is_better=True) and not exact.exceeded(110400, 110400, True)
    assert not drop.exceeded(0.85, 0.845, lower_is_better=False)  # at the limit, despite float rounding
    assert drop.exceeded(0.85, 0.8449, lower_is_better=False)
    assert not drop.exceeded(0.85, 0.95, lower_is_better=False)


def test_negative_or_malformed_values_are_one_line_errors(tmp_path):
    assert _error(tmp_path, 'memory = "-1"') == (
        "pyproject.toml [tool.harness.thresholds]: memory = '-1' is not a threshold; use a number (absolute) or 'N%'")
    assert "memory = -1 is not a threshold" in _error(tmp_path, "memory = -1")
    assert "cycles = 'abc%' is not a threshold" in _error(tmp_path, 'cycles = "abc%"')
    assert "cycles = '-1%' is not a threshold" in _error(tmp_path, 'cycles = "-1%"')
    assert "ap50 = '0.01' is not a threshold" in _error(tmp_path, 'ap50 = "0.01"')
    assert "memory = True is not a threshold" in _error(tmp_path, "memory = true")
    assert "memory.stack_bytes = nan is not a threshold" in _error(tmp_path, '"memory.stack_bytes" = nan')


def test_unknown_keys_are_errors(tmp_path):
    assert "'memroy' is neither a family" in _error(tmp_path, "memroy = 0")
    assert "'memory.stak_bytes' is neither a family" in _error(tmp_path, '"memory.stak_bytes" = 0')
    assert "'latency.layer.' is neither" in _error(tmp_path, '"latency.layer." = 0')
    assert "'flash*' is neither" in _error(tmp_path, '"flash*" = 0')
    # Globs over the metric namespaces are fine, even with a glob in the first part.
    assert parse_table({"*.ap50": 0.01, "mem*.*": 8}, "x").for_metric("accuracy.ap50", "x") == Threshold(0.01, False)


@pytest.mark.parametrize("alpha", ["0", "0.6", "-0.01", '"0.01"', "true"])
def test_alpha_outside_its_range_is_an_error(tmp_path, alpha):
    assert "is not a significance level; use a number in (0, 0.5]" in _error(tmp_path, f"alpha = {alpha}")


def test_malformed_toml_and_missing_file(tmp_path):
    path = tmp_path / "pyproject.toml"
    path.write_text("[tool.harness.thresholds\nmemory = 0\n")
    with pytest.raises(UsageError, match="not readable TOML"):
        load_thresholds(path)
    with pytest.raises(UsageError, match="no such file"):
        load_thresholds(tmp_path / "missing.toml")


def test_project_pyproject_is_found_from_a_subfolder(tmp_path, monkeypatch):
    _pyproject(tmp_path, "memory = 32")
    sub = tmp_path / "tests" / "deep"
    sub.mkdir(parents=True)
    monkeypatch.chdir(sub)
    assert load_thresholds().rules["memory"] == Threshold(32, False)  # no git here: walked up
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "tests" / "pyproject.toml").write_text("[tool.harness.thresholds]\nmemory = 1\n")
    assert load_thresholds().rules["memory"] == Threshold(32, False)  # the git toplevel's, not the nearest


def test_no_pyproject_anywhere_gives_the_defaults(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    if any((p / "pyproject.toml").is_file() for p in (tmp_path, *tmp_path.parents)):
        pytest.skip("a pyproject.toml above the temporary folder")
    assert load_thresholds() == defaults()
