"""Comments and docs cite only files that exist in the repository: every ``docs/…``, ``harness/…``,
``firmware/…``, ``tests/…``, ``fixtures/…``, ``Renode/…`` or ``.ci/…`` path named in the sources is there."""

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CITED = re.compile(r"(?<![\w./-])((?:docs|harness|firmware|tests|fixtures|Renode|\.ci)/[\w./<>-]*[\w>])")
SOURCES = ("harness", "firmware", "tests", "docs", "Renode", ".ci")
NOTES = ROOT / "docs" / "notes"  # research notes: they cite other repositories' files (EdgeML's, Renode's)
SUFFIXES = {".py", ".c", ".h", ".md", ".repl", ".resc", ".in", ".yaml", ""}


def _cited():
    for top in SOURCES:
        for path in sorted((ROOT / top).rglob("*")):
            if path.is_file() and path.suffix in SUFFIXES and "__pycache__" not in path.parts \
                    and NOTES not in path.parents:
                for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
                    for cited in CITED.findall(line):
                        yield path.relative_to(ROOT), number, cited


def test_every_cited_repository_path_exists():
    missing = []
    for path, number, cited in _cited():
        if "<" in cited or "*" in cited:  # a pattern (fixtures/baselines/<board>/…), not a file
            continue
        target = ROOT / cited.rstrip(".")
        if not target.exists() and not any(ROOT.glob(cited.rstrip(".") + ".*")):
            missing.append(f"{path}:{number}: {cited}")
    assert not missing, "cited but not in the repository:\n" + "\n".join(missing)
