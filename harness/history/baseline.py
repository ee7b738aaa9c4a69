"""Baselines committed to the repository, for CI without a persistent history store.

One JSON file per board and model, ``fixtures/baselines/<board>/<model>.json``: a run record without its store id.
The file is laid out for review: one key per line and one fixture per block, while the short lists (latency samples,
a detection's box) stay on one line each, so a re-recorded baseline's diff shows what moved.
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

from harness.errors import UsageError
from harness.history.record import FORMAT, Run
from harness.project import SOURCE

BASELINES = SOURCE.root / "fixtures" / "baselines"  # the harness's own; a session uses its workspace's


def baseline_path(board: str, model: str, root: Path | None = None) -> Path:
    for what, name in (("board", board), ("model", model)):
        if not name or name in (".", "..") or "/" in name or "\\" in name:
            raise UsageError(f"{what} name {name!r} cannot name a baseline file; use the boards.yaml board name "
                             "and the model file's stem")
    return Path(BASELINES if root is None else root) / board / f"{model}.json"


def _dump(value, level: int = 0) -> str:
    """JSON with indent 1, sorted keys, and lists of plain values kept on one line."""
    pad, inner = " " * level, " " * (level + 1)
    if isinstance(value, dict):
        if not value:
            return "{}"
        items = [f"{inner}{json.dumps(str(k))}: {_dump(v, level + 1)}" for k, v in sorted(value.items())]
        return "{\n" + ",\n".join(items) + "\n" + pad + "}"
    if isinstance(value, list | tuple):
        if all(not isinstance(v, dict | list | tuple) for v in value):
            return json.dumps(list(value))
        return "[\n" + ",\n".join(inner + _dump(v, level + 1) for v in value) + "\n" + pad + "]"
    return json.dumps(value)


def write_baseline(run: Run, path: Path | None = None) -> Path:
    """Write ``run`` (without its store id) as the baseline of its board and model, or to ``path``; atomically."""
    path = baseline_path(run.board, run.model) if path is None else Path(path)
    record = {k: v for k, v in run.as_dict().items() if k != "id"}
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        # Write beside the target and rename over it, so a reader (or an interrupted write) never sees half a file.
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as exc:
        raise UsageError(f"cannot write the baseline {path} ({exc.strerror or exc}): choose another -o path") \
            from exc
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(_dump(record) + "\n")
        os.chmod(tmp, 0o644)  # mkstemp makes it private; a baseline is a file to commit and share
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def read_baseline(path: Path, *, explicit: bool = False) -> Run:
    """The baseline in ``path``. ``explicit``: a file the user named (its folder need not name a board), not one
    ``baseline_path`` chose."""
    path = Path(path)
    board, model = path.parent.name, path.stem
    committed = not explicit
    fix = (f"re-record it with `harness baseline update --board {board}`" if committed else
           f"write it again with `harness baseline update -o {path}`")
    if path.is_dir():
        raise UsageError(f"the baseline {path} is a folder: pass a baseline .json file")
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        if not committed:
            raise UsageError(f"no baseline file {path}: check the path, or write one with "
                             f"`harness baseline update -o {path}`") from None
        raise UsageError(f"no baseline for {board}/{model} at {path}: record one with "
                         f"`harness baseline update --board {board}`") from None
    except (OSError, UnicodeDecodeError) as err:
        raise UsageError(f"{path}: unreadable baseline ({err}); {fix}") from err
    try:
        data = json.loads(text)
    except json.JSONDecodeError as err:
        raise UsageError(f"{path}: not JSON (line {err.lineno}: {err.msg}); {fix}") from err
    if not isinstance(data, dict):
        raise UsageError(f"{path}: not a baseline (a JSON {type(data).__name__}, not an object); {fix}")
    if data.get("format") != FORMAT:
        raise UsageError(f"{path}: format {data.get('format')!r}, this harness reads {FORMAT!r}; {fix}")
    try:
        return Run.from_dict({k: v for k, v in data.items() if k != "id"})
    except (TypeError, KeyError, ValueError, AttributeError) as err:
        raise UsageError(f"{path}: not a {FORMAT} record ({type(err).__name__}: {err}); {fix}") from err


def load_baseline(board: str, model: str, root: Path | None = None) -> Run:
    return read_baseline(baseline_path(board, model, root))
