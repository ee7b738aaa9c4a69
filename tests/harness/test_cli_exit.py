"""The exit-code policy (harness/cli/__init__.py): 0 ok, 1 a test outcome, 2 a usage or environment error; `detect`
and `selftest` agree that a device/reference mismatch is 1. No build or board: the device side is faked."""

from types import SimpleNamespace

import pytest

from harness.cli import common, main
from harness.errors import BuildError, DependencyError, HarnessError, MismatchError, UsageError
from tests.harness.test_cli_device import SCENE, _fake_detect


def _run(capsys, *argv):
    try:
        code = main(list(argv))
    except SystemExit as exc:  # argparse
        code = exc.code
    return code, capsys.readouterr()


def test_the_policy_is_one_table_of_error_classes():
    assert (common.OK, common.FAILED, common.USAGE) == (0, 1, 2)
    assert MismatchError.exit_code == common.FAILED
    assert all(cls.exit_code == common.USAGE for cls in (HarnessError, UsageError, DependencyError, BuildError))


def test_a_usage_error_is_2(capsys):
    code, out = _run(capsys, "detect", SCENE, "--board", "no-such-board")
    assert code == 2 and out.err.startswith("harness: error: ") and out.err.count("\n") == 1
    code, out = _run(capsys, "detect", SCENE, "--baud", "fast")  # argparse's
    assert code == 2 and out.err.count("\n") == 1


def test_detect_mismatch_is_1(capsys, monkeypatch):
    _fake_detect(monkeypatch, match=False)
    code, out = _run(capsys, "detect", SCENE)
    assert code == 1 and "MISMATCH with the reference: layer mb3: crc differs" in out.out
    assert out.err == "harness: the device disagrees with the reference: layer mb3: crc differs\n"
    _fake_detect(monkeypatch)
    assert _run(capsys, "detect", SCENE)[0] == 0


@pytest.mark.parametrize("match", [False, True])
def test_selftest_mismatch_is_1_as_for_detect(capsys, monkeypatch, match):
    import harness.cli.firmware as firmware

    outcome = SimpleNamespace(verdict=SimpleNamespace(match=match, problems=("layer mb3: crc differs",)),
                              report=None, build=SimpleNamespace(info={}), as_dict=lambda: {"match": match})
    monkeypatch.setattr(firmware, "_run", lambda args: outcome)
    code, out = _run(capsys, "selftest", "--json")
    assert out.out == f'{{"match": {str(match).lower()}}}\n'
    if match:
        assert code == 0 and out.err == ""
    else:
        assert code == 1 and out.err == "harness: error: self-test failed: layer mb3: crc differs\n"
