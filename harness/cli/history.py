"""``harness history``, ``compare``, ``regressions``, ``report`` and ``baseline update``: the per-commit record
of accuracy, latency and memory, read back from the history store."""

from __future__ import annotations

import json
from pathlib import Path

from harness.cli.common import FAILED, OK, count
from harness.errors import UsageError
from harness.history.metrics import is_fraction, shown
from harness.options import add, model_name
from harness.progress import Progress


def _store(args):
    """The store, for reading: these commands never create or migrate anything."""
    from harness.history.store import open_store

    return open_store(args.history or None, write=False)


def _model(args) -> str | None:
    """The --model's name in the store: its file's stem (``default`` for default, default.npz or its path)."""
    return model_name(args.model) if args.model else None


def _board(args) -> str | None:
    """The --board's name in the store: NAME of NAME@PORT (the form the test run took; runs are kept by board)."""
    name, at, _port = (args.board or "").partition("@")
    return (name if at and name else args.board) or None


def _matching(args, store) -> list[tuple[str, str]]:
    """The (board, model) pairs of the store that --board and --model select; a selection matching none of the
    pairs the store has is a UsageError naming them."""
    keys = store.keys()
    board, model = _board(args), _model(args)
    match = [k for k in keys if (not board or k[0] == board) and (not model or k[1] == model)]
    if keys and not match:
        raise UsageError(f"no recorded runs for {board or '*'}/{model or '*'} in {store.location}; it has "
                         f"runs of {', '.join('/'.join(k) for k in keys)}: choose with --board and --model")
    return match


def _key(args, store) -> tuple[str, str]:
    """--board/--model, or the only (board, model) the store has."""
    match = _matching(args, store)
    if len(match) == 1:
        return match[0]
    if not match:
        raise UsageError(f"no recorded runs in {store.location}; record some with "
                         "`pytest --board=qemu-stm32f405` (or `harness detect IMAGE --history`)")
    raise UsageError(f"{store.location} has runs of several boards/models ({', '.join('/'.join(k) for k in match)})"
                     ": choose with --board and --model")


def _fmt(value: float | None, metric: str) -> str:
    if value is None:
        return "-"
    return f"{value:.3f}" if is_fraction(metric) else f"{value:,.0f}"


COLUMNS = tuple((m.label, m.name) for m in shown())  # (heading, metric): harness/history/metrics.py


def history_table(runs) -> list[str]:
    from harness.history.record import run_metrics
    from harness.history.recording import short

    header = ["run", "commit", "time (UTC)", "branch", "fixtures"] + [name for name, _ in COLUMNS]
    rows = []
    for r in reversed(runs):  # newest first
        m = run_metrics(r)
        rows.append([f"#{r.id}", short(r.commit, r.dirty), r.time[:16].replace("T", " "), r.branch or "-",
                     str(len(r.fixtures))] + [_fmt(m.get(metric), metric) for _, metric in COLUMNS])
    widths = [max(len(x) for x in col) for col in zip(header, *rows)]
    return ["  ".join(c.rjust(w) if i >= 4 else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths)))
            for row in [header, *rows]]


def cmd_history(args) -> int:
    with _store(args) as store:
        keys = _matching(args, store)
        groups = {k: store.runs(board=k[0], model=k[1], limit=args.limit) for k in keys}
        location = store.location
    if args.json:
        from harness.history.record import run_metrics

        print(json.dumps([{**r.as_dict(), "metrics": run_metrics(r)} for runs in groups.values() for r in runs]))
        return OK
    if not groups:
        missing = "" if "://" in location or Path(location).exists() else " (no such file)"
        print(f"no runs recorded in {location}{missing} yet; `pytest --board=qemu-stm32f405` records one")
        return OK
    for (board, model), runs in groups.items():
        unit = runs[-1].unit
        print(f"{board} / model {model}: {len(runs)} run(s) in {location} (latency in {unit}; * = dirty tree)")
        for line in history_table(runs):
            print("  " + line)
    return OK


def _resolve(ref: str, key: tuple[str, str], store):
    """#ID (a run), a baseline .json, ``baseline`` (the committed file) or a git ref (its latest run)."""
    from harness.history.baseline import load_baseline, read_baseline
    from harness.history.recording import latest_on_ref

    if ref.startswith("#") and ref[1:].isdigit():
        return store.get(int(ref[1:]))
    if ref == "baseline":
        return load_baseline(*key)
    if ref.endswith(".json"):
        return read_baseline(Path(ref), explicit=True)
    run = latest_on_ref(store, *key, ref)
    if run is None:
        raise UsageError(f"no recorded run of {key[0]}/{key[1]} on {ref} in {store.location}")
    return run


def cmd_compare(args) -> int:
    from harness.history.gate import compare_runs
    from harness.history.recording import short
    from harness.history.thresholds import load_thresholds

    with _store(args) as store:
        key = _key(args, store)
        old, new = _resolve(args.ref1, key, store), _resolve(args.ref2, key, store)
    gate = compare_runs(old, new, load_thresholds())
    if args.json:
        print(json.dumps({"baseline": old.id, "run": new.id, "ok": gate.ok, "notes": list(gate.notes),
                          "findings": [{"metric": f.metric, "baseline": f.baseline, "now": f.now,
                                        "threshold": str(f.threshold), "regression": f.regression,
                                        "p_value": f.p_value} for f in gate.findings]}))
    else:
        print(f"{key[0]} / model {key[1]}: {args.ref1} = run #{old.id} ({short(old.commit, old.dirty)}) → "
              f"{args.ref2} = run #{new.id} ({short(new.commit, new.dirty)})")
        for note in gate.notes:
            print(f"  note: {note}")
        for line in gate.table(only_regressions=False):
            print("  " + line)
        print(f"{len(gate.regressions)} regression(s)")
    return FAILED if not gate.ok else OK


def cmd_regressions(args) -> int:
    from harness.history.gate import find_regressions
    from harness.history.provenance import commits_of
    from harness.history.recording import short
    from harness.history.thresholds import load_thresholds

    with _store(args) as store:
        runs = store.runs(board=_board(args), model=_model(args))
    in_range = None
    if args.range:
        in_range = commits_of(args.range, first_parent=False)
        if in_range is None:
            raise UsageError(f"{args.range!r} is not a commit range git knows (e.g. main..HEAD, v1.0..v1.2)")
    found = [g for g in find_regressions(runs, load_thresholds())
             if in_range is None or g.run.commit in set(in_range)]
    if args.json:
        print(json.dumps([{"run": g.run.id, "commit": g.run.commit, "baseline_run": g.baseline.id,
                           "baseline_commit": g.baseline.commit, "board": g.run.board, "model": g.run.model,
                           "regressions": [{"metric": f.metric, "baseline": f.baseline, "now": f.now,
                                            "threshold": str(f.threshold)} for f in g.regressions]}
                          for g in found]))
        return FAILED if found else OK
    scope = f" in {args.range}" if args.range else ""
    if not found:
        print(f"no regressions{scope} among {len(runs)} recorded run(s)")
        return OK
    print(f"{len(found)} regressing run(s){scope}:")
    for g in found:
        print(f"{g.run.board} / model {g.run.model}: run #{g.run.id} ({short(g.run.commit, g.run.dirty)}) against "
              f"run #{g.baseline.id} ({short(g.baseline.commit, g.baseline.dirty)})")
        for line in g.table():
            print("  " + line)
    return FAILED


def cmd_report(args) -> int:
    from harness.history.report import write_report
    from harness.history.thresholds import load_thresholds
    from harness.preflight import check_output_file

    check_output_file(args.output, (".html", ".htm"))
    with _store(args) as store:
        runs = store.runs(board=_board(args), model=_model(args), limit=args.limit)
        location = store.location
    path = write_report(runs, args.output, load_thresholds(), title=f"harness history: {location}")
    print(f"wrote {path} ({len(runs)} run(s); self-contained, opens offline)")
    return OK


def cmd_baseline_update(args) -> int:
    from harness.history.baseline import baseline_path, write_baseline
    from harness.history.recording import latest_on_ref, short
    from harness.preflight import check_output_file

    if args.output:
        check_output_file(args.output, (".json",))
    with _store(args) as store:
        key = _key(args, store)
        if args.run is not None:
            run = store.get(args.run)
        elif args.ref:
            run = latest_on_ref(store, *key, args.ref)
            if run is None:
                raise UsageError(f"no recorded run of {key[0]}/{key[1]} on {args.ref} in {store.location}")
        else:
            run = store.runs(board=key[0], model=key[1], limit=1)[-1]
    path = write_baseline(run, Path(args.output) if args.output else baseline_path(run.board, run.model))
    print(f"wrote {path}: run #{run.id} of {run.board}/{run.model}, commit {short(run.commit, run.dirty)}, "
          f"{len(run.fixtures)} fixture(s)")
    if run.dirty:
        Progress().warn("note: that run was made with uncommitted changes")
    return OK


def register(sub, bench) -> None:
    def common(p):
        add(p, "--history")
        add(p, "--board", default=None, says_default="the only one recorded")
        add(p, "--model", default=None, says_default="the only one recorded")

    h = sub.add_parser("history", help="recorded runs per commit: latency, memory, accuracy, agreement")
    common(h)
    h.add_argument("--limit", type=count(1), default=None, help="newest N runs per board/model. Default: all")
    h.add_argument("--json", action="store_true", help="print a JSON list of runs (each with its metrics)")
    h.set_defaults(func=cmd_history)

    c = sub.add_parser("compare", help="compare two runs metric by metric (exit 1 on a regression)")
    c.add_argument("ref1", help="the older side: a git ref (its latest run), #ID, baseline, or a baseline .json")
    c.add_argument("ref2", help="the newer side, as REF1")
    common(c)
    c.add_argument("--json", action="store_true")
    c.set_defaults(func=cmd_compare)

    r = sub.add_parser("regressions", help="every regression in the history or a commit range (not only the latest)")
    r.add_argument("range", nargs="?", help="git commit range, e.g. main..HEAD. Default: the whole history")
    common(r)
    r.add_argument("--json", action="store_true")
    r.set_defaults(func=cmd_regressions)

    p = sub.add_parser("report", help="self-contained HTML report: one plot per metric over commits, per board")
    p.add_argument("-o", "--output", required=True, help="output file (.html)")
    common(p)
    p.add_argument("--limit", type=count(1), default=None, help="newest N runs per board/model. Default: all")
    p.set_defaults(func=cmd_report)

    b = sub.add_parser("baseline", help="the committed baselines CI gates against (fixtures/baselines/)")
    bsub = b.add_subparsers(dest="baseline_command", required=True)
    u = bsub.add_parser("update", help="write fixtures/baselines/<board>/<model>.json from a recorded run")
    common(u)
    which = u.add_mutually_exclusive_group()
    which.add_argument("--run", type=count(1), metavar="ID", help="this run. Default: the latest of the board/model")
    which.add_argument("--ref", help="the latest run on this git ref (e.g. main)")
    u.add_argument("-o", "--output", help="write here instead of fixtures/baselines/<board>/<model>.json")
    u.set_defaults(func=cmd_baseline_update)
