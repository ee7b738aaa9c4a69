"""The end of a device session: the fixtures become one run, the run goes into the history store and is compared
with its baseline. The pytest plugin and ``harness detect`` call these; they print what comes back."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from harness.errors import UsageError
from harness.history.record import Run

BASELINE_CHOICES = "auto, file, none, a baseline .json file, or a git ref (main, HEAD~1, a sha)"
REF_DEPTH = 500  # commits searched back from a ref for its latest recorded run


@dataclass(frozen=True)
class Baseline:
    run: Run | None
    source: str            # "fixtures/baselines/…/default.json", "run #12 (main, abc1234)" or why there is none
    required: bool = False  # asked for explicitly: its absence is an error


@dataclass(frozen=True)
class Outcome:
    run: Run
    stored: str = ""                  # "run #12 in .harness/history.sqlite", or "" when not recorded
    baseline: Baseline | None = None
    gate: object | None = None        # harness.history.gate.GateResult
    problems: tuple[str, ...] = field(default_factory=tuple)  # a store or baseline that failed, one line each

    @property
    def regressed(self) -> bool:
        return self.gate is not None and not self.gate.ok


def short(commit: str, dirty: bool = False) -> str:
    return (commit[:7] or "no-git") + ("*" if dirty else "")


def latest_on_ref(store, board: str, model: str, ref: str, exclude: int | None = None) -> Run | None:
    """The newest recorded run of (board, model) on ``ref``'s first-parent history (clean runs first)."""
    from harness.history.provenance import commits_of

    commits = commits_of(ref, limit=REF_DEPTH)
    if commits is None:
        raise UsageError(f"baseline {ref!r} is neither a file nor a git ref here; use {BASELINE_CHOICES}")
    order = {c: i for i, c in enumerate(commits)}
    runs = [r for r in store.runs(board=board, model=model, commits=commits) if r.id != exclude]
    if not runs:
        return None
    return min(runs, key=lambda r: (r.dirty, order[r.commit], -(r.id or 0)))


def resolve_baseline(spec: str, run: Run, store=None, baselines: Path | None = None) -> Baseline:
    """``spec``: auto (the committed file when there is one), file (the committed file, required), none, a path
    to a baseline .json, or a git ref whose latest recorded run of the same board and model is the baseline.
    ``baselines``: the project's folder of committed baselines. Default: this repository's fixtures/baselines."""
    from harness.history.baseline import baseline_path, read_baseline

    spec = spec or "auto"
    if spec == "none":
        return Baseline(None, "not gated (--baseline=none)")
    if spec in ("auto", "file"):
        path = baseline_path(run.board, run.model, baselines)
        if spec == "auto" and not path.is_file():
            return Baseline(None, f"not gated: no baseline for {run.board}/{run.model} ({_rel(path)}); write one "
                                  f"with `harness baseline update --board {run.board} --model {run.model}`")
        return Baseline(read_baseline(path), _rel(path), required=True)
    if spec.endswith(".json") or Path(spec).is_file():
        return Baseline(read_baseline(Path(spec), explicit=True), spec, required=True)
    if store is None:
        raise UsageError(f"baseline {spec!r} is a git ref, which needs the history: drop --no-history")
    found = latest_on_ref(store, run.board, run.model, spec, exclude=run.id)
    if found is None:
        raise UsageError(f"no recorded run of {run.board}/{run.model} on {spec} (last {REF_DEPTH} commits) in "
                         f"{store.location}: record one there first, or use --baseline=file")
    return Baseline(found, f"run #{found.id} on {spec} ({short(found.commit, found.dirty)})", required=True)


def _rel(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def finish(run: Run, history: str | None, record: bool, baseline: str, thresholds_file: Path | None = None,
           baselines: Path | None = None) -> Outcome:
    """Store ``run`` (unless ``record`` is False) and gate it against ``baseline``. Store and baseline failures
    come back as problems (one line each) so the session can still print what it measured."""
    import dataclasses

    from harness.errors import HarnessError
    from harness.history.gate import compare_runs
    from harness.history.store import open_store
    from harness.history.thresholds import load_thresholds

    problems, stored, store = [], "", None
    try:
        if record or not _is_file_spec(baseline):
            store = open_store(history)
        if record:
            run = dataclasses.replace(run, id=store.add(run))
            stored = f"run #{run.id} in {store.location}"
        base = resolve_baseline(baseline, run, store, baselines)
        gate = compare_runs(base.run, run, load_thresholds(thresholds_file)) if base.run is not None else None
        return Outcome(run, stored, base, gate)
    except HarnessError as exc:
        problems.append(str(exc))
        return Outcome(run, stored, None, None, tuple(problems))
    finally:
        if store is not None:
            store.close()


def _is_file_spec(spec: str) -> bool:
    return spec in ("auto", "file", "none") or spec.endswith(".json") or Path(spec).is_file()


def outcome_lines(outcome: Outcome) -> list[str]:
    """What a person reads at the end of the session."""
    run = outcome.run
    lines = [f"{run.board} / model {run.model} ({run.model_id}), commit {short(run.commit, run.dirty)}, "
             f"{len(run.fixtures)} fixture(s)" + (f", recorded as {outcome.stored}" if outcome.stored else
                                                   ", not recorded")]
    lines += [f"problem: {p}" for p in outcome.problems]
    if outcome.baseline is not None and outcome.gate is None:
        lines.append(outcome.baseline.source)
    if outcome.gate is not None:
        gate = outcome.gate
        lines.append(f"gate against {outcome.baseline.source}: " + (
            f"no regression in {len(gate.findings)} metrics" if gate.ok else
            f"{len(gate.regressions)} REGRESSION(S) in {len(gate.findings)} metrics"))
        lines += [f"  {n}" for n in gate.notes]
        if not gate.ok:
            lines += ["  " + row for row in gate.table()]
            lines.append("the session fails: the run regressed against its baseline (thresholds: "
                         "pyproject.toml [tool.harness.thresholds])")
    return lines
