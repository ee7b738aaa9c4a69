"""The history report: one self-contained HTML page (inline SVG plots, no scripts, nothing fetched) with, per
(board, model), every metric over commits, the regressions the gate finds and the table of runs."""

from __future__ import annotations

import html
import io
import math
import re
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from harness.errors import InputError
from harness.history import metrics as registry
from harness.history.gate import GateResult, find_regressions, value_text
from harness.history.metrics import ARENA, BYTES, FLASH, FRACTION, RAM, STACK, TICKS, TOTAL
from harness.history.metrics import LAYER_PREFIX as LAYER
from harness.history.record import Run, run_metrics
from harness.history.thresholds import Thresholds, load_thresholds

RECORD_COMMAND = "pytest --board=qemu-stm32f405"
METRIC_ORDER = tuple(m.name for m in registry.shown())  # the first (latency.total) is the headline plot
RED = "#d62728"
RC = {"svg.fonttype": "none", "font.size": 8, "axes.titlesize": 9}  # fonttype none: text stays <text>, small
TICK_INCHES = 0.3  # a rotated sha label needs about this much axis width; more runs: label every k-th

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em auto; max-width: 1280px; color: #222; padding: 0 1em; }
h1 { font-size: 1.5em; } h2 { font-size: 1.25em; border-bottom: 2px solid #ccc; margin-top: 2em; }
h3 { font-size: 1.05em; margin-top: 1.5em; }
.meta { color: #555; } .meta b { color: #222; }
.plots { display: grid; grid-template-columns: repeat(auto-fill, minmax(560px, 1fr)); gap: 0.5em; }
figure { margin: 0; } figure.wide { grid-column: 1 / -1; }
svg { max-width: 100%; height: auto; }
table { border-collapse: collapse; margin: 0.5em 0; font-size: 13px; }
th, td { border: 1px solid #ddd; padding: 2px 8px; text-align: left; } td.n { text-align: right; }
th { background: #f3f3f3; } tr.bad td { background: #fdecea; }
.bad { color: #b71c1c; font-weight: 600; } .ok { color: #2e7d32; }
code { background: #f3f3f3; padding: 0 3px; }
figcaption { font-size: 12px; color: #333; margin: 0.3em 0 0 0.5em; }
"""


def write_report(runs: Sequence[Run], path: str | Path, thresholds: Thresholds | None = None,
                 title: str = "harness history") -> Path:
    """Write the report of ``runs`` to ``path`` (see ``render_report``)."""
    path = Path(path)
    text = render_report(runs, thresholds, title)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    return path


def render_report(runs: Sequence[Run], thresholds: Thresholds | None = None, title: str = "harness history") -> str:
    """The report's HTML: a section per (board, model) key with its plots, regressions and runs, oldest key first.
    ``thresholds``: the gate's (None: the project's pyproject.toml, else the defaults)."""
    runs = sorted(runs, key=lambda r: r.time)  # the gate and the plots want time order; sorted() is stable
    body = [f"<h1>{_e(title)}</h1>"]
    if not runs:
        body.append("<p>Nothing recorded yet. Runs are recorded by the pytest plugin on every device run, e.g. "
                    f"<code>{_e(RECORD_COMMAND)}</code>.</p>")
        return _page(title, body)
    if thresholds is None:
        thresholds = load_thresholds()
    results = find_regressions(runs, thresholds)
    keys = list(dict.fromkeys(r.key for r in runs))
    body.append(f"<p class='meta'>{len(runs)} runs of {len(keys)} board/model pairs, "
                f"generated {_e(datetime.now(UTC).strftime('%Y-%m-%d %H:%M UTC'))}.</p>")
    body.append("<ul>")
    for i, key in enumerate(keys):
        n = sum(len(g.regressions) for g in results if g.run.key == key)
        mark = f"<span class='bad'>{n} regressions</span>" if n else "<span class='ok'>no regressions</span>"
        body.append(f"<li><a href='#s{i}'>{_e(key[0])} / {_e(key[1])}</a>: {mark}</li>")
    body.append("</ul>")
    for i, key in enumerate(keys):
        body += _section(f"s{i}", [r for r in runs if r.key == key], [g for g in results if g.run.key == key])
    return _page(title, body)


def _page(title: str, body: list[str]) -> str:
    return "\n".join(["<!DOCTYPE html>", "<html lang='en'>", "<head>", "<meta charset='utf-8'>",
                      f"<title>{_e(title)}</title>", f"<style>{CSS}</style>", "</head>", "<body>", *body,
                      "</body>", "</html>", ""])


def _e(value) -> str:
    return html.escape(str(value), quote=True)


def _run_label(run: Run) -> str:
    """#id and commit: several runs may share a commit (reruns, a dirty tree, no git)."""
    return f"#{run.id} {_sha(run)}" if run.id is not None else _sha(run)


def _sha(run: Run) -> str:
    return (run.commit[:7] or "no-git") + ("*" if run.dirty else "")


def _index(runs: list[Run], run: Run) -> int | None:
    for i, r in enumerate(runs):  # identity first: the gate hands back the objects it was given
        if r is run:
            return i
    return next((i for i, r in enumerate(runs) if r == run), None)


def _section(sid: str, runs: list[Run], results: list[GateResult]) -> list[str]:
    board, model = runs[0].key
    metrics = [run_metrics(r) for r in runs]
    units = ", ".join(dict.fromkeys(r.unit for r in runs))
    runs_on = ", ".join(dict.fromkeys(r.runs_on for r in runs))
    out = [f"<section id='{sid}'>", f"<h2>{_e(board)} / {_e(model)}</h2>",
           f"<p class='meta'>board <b>{_e(board)}</b> · model <b>{_e(model)}</b> · runs on <b>{_e(runs_on)}</b> · "
           f"latency in <b>{_e(units)}</b> · <b>{len(runs)}</b> runs · commits <b>{_e(_sha(runs[0]))}</b> "
           f"({_e(_day(runs[0].time))}) … <b>{_e(_sha(runs[-1]))}</b> ({_e(_day(runs[-1].time))})</p>"]
    bad: dict[str, set[int]] = {}  # metric → indices of the runs where it regressed
    for g in results:
        i = _index(runs, g.run)
        for f in g.regressions:
            if i is not None:
                bad.setdefault(_plotted_as(f.metric), set()).add(i)
    out.append("<div class='plots'>")
    out += _plots(sid, runs, metrics, bad, units)
    out.append("</div>")
    out += _regressions(results)
    out += _runs_table(runs, metrics)
    out.append("</section>")
    return out


def _day(time: str) -> str:
    return time[:10]


def _plotted_as(metric: str) -> str:
    # latency.total.spread/min/max have no plot of their own: they belong to the total's band
    return TOTAL if metric.startswith(TOTAL) else metric


# -- plots ------------------------------------------------------------------------------------------------------


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: CI machines and benches have no display
    import matplotlib.pyplot as plt

    return plt


def _unit(metric: str) -> str:
    """The metric's unit (TICKS, BYTES, FRACTION…); a plotted name is always registered."""
    return registry.get(metric).unit


def _unit_label(metric: str, unit: str) -> str:
    return unit if _unit(metric) == TICKS else _unit(metric)


def _plots(sid: str, runs: list[Run], metrics: list[dict], bad: dict[str, set[int]], unit: str) -> list[str]:
    import matplotlib as mpl

    with mpl.rc_context(RC):  # read both when drawing and when saving
        return _plot_all(sid, runs, metrics, bad, unit)


def _plot_all(sid: str, runs: list[Run], metrics: list[dict], bad: dict[str, set[int]], unit: str) -> list[str]:
    present = set().union(*metrics)
    layers = list(dict.fromkeys(m for ms in metrics for m in ms if m.startswith(LAYER)))
    out = []
    n = 0
    for metric in METRIC_ORDER[:1]:
        if metric in present:
            # the headline: full width, like the layers under it
            out.append(_figure(f"{sid}f{n}", [metric], _single(runs, metrics, metric, bad, unit, (12.8, 2.6)),
                               wide=True))
            n += 1
    if layers:
        caption = f"latency of each layer ({unit}, median over fixtures); own y scale per layer"
        out.append(_figure(f"{sid}f{n}", layers, _layers(runs, metrics, layers, bad, unit), wide=True,
                           caption=caption))
        n += 1
    for metric in METRIC_ORDER[1:]:
        if metric in present:
            out.append(_figure(f"{sid}f{n}", [metric], _single(runs, metrics, metric, bad, unit)))
            n += 1
    return out


def _figure(fid: str, metrics: list[str], fig, wide: bool = False, caption: str = "") -> str:
    cls = " class='wide'" if wide else ""
    cap = f"<figcaption>{_e(caption)}</figcaption>" if caption else ""
    return f"<figure{cls} data-metrics='{_e(' '.join(metrics))}'>{cap}{_svg(fig, fid)}</figure>"


def _svg(fig, prefix: str) -> str:
    """The figure as an SVG element to inline: no prolog, DOCTYPE or metadata (its URLs), ids made page-unique."""
    plt = _pyplot()
    buf = io.StringIO()
    try:
        fig.savefig(buf, format="svg", metadata={"Date": None})
    finally:
        plt.close(fig)
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]
    svg = re.sub(r"\s*<metadata>.*?</metadata>", "", svg, count=1, flags=re.S)
    svg = re.sub(r'\s+xmlns(:\w+)?="[^"]*"', "", svg)  # the HTML parser puts <svg> in its namespace itself
    # every matplotlib SVG calls its parts figure_1, axes_1…: prefix ids and their references with the figure's id
    return re.sub(r'(\sid="|url\(#|href="#)', lambda m: m.group(1) + prefix + "-", svg)


def _new_axes(plt, rows: int = 1, cols: int = 1, size=(6.4, 2.4)):
    return plt.subplots(rows, cols, figsize=size, squeeze=False)


def _series(metrics: list[dict], metric: str) -> np.ndarray:
    return np.array([m.get(metric, math.nan) for m in metrics], dtype=float)


def _draw(ax, x, y, metric: str, bad: set[int], labels: list[str], ticks: list[int], tick_labels: bool = True):
    from matplotlib.ticker import EngFormatter, FuncFormatter

    ax.plot(x, y, "o-", color="#1f77b4", ms=3 if len(x) <= 30 else 1.5, lw=1.2,
            label="median" if metric == TOTAL else None)
    for i in sorted(bad):
        ax.axvspan(i - 0.5, i + 0.5, color=RED, alpha=0.15, lw=0)
        if not math.isnan(y[i]):
            ax.plot([i], [y[i]], "^", color=RED, ms=8, mec="black", mew=0.5, zorder=5)
    ax.set_xlim(-0.5, len(x) - 0.5)
    ax.grid(alpha=0.3)
    if _unit(metric) == TICKS:
        ax.yaxis.set_major_formatter(EngFormatter(sep="\u202f"))  # 168 M rather than 1.68e8
    elif _unit(metric) == BYTES:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:,.0f}"))
    else:
        ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:.3g}"))
    if not tick_labels:
        ax.set_xticks(ticks, [""] * len(ticks))
        return
    ax.set_xticks(ticks, [labels[i] for i in ticks], rotation=60, ha="right", fontsize=7, family="monospace")
    for t, i in zip(ax.get_xticklabels(), ticks):
        if i in bad:
            t.set_color(RED)


def _ylim(ax, values: np.ndarray, metric: str) -> None:
    """Latency spans at least 1 % of its level, so a board's 0.05 % noise stays a wiggle and does not fill the
    plot; fractions stay within [0, 1]."""
    v = values[~np.isnan(values)]
    if not len(v):
        return
    lo, hi = float(v.min()), float(v.max())
    if _unit(metric) == TICKS:
        span = max(hi - lo, 0.01 * max(abs(hi), 1.0))
        mid = (lo + hi) / 2
        lo, hi = mid - span / 2, mid + span / 2
    elif _unit(metric) == FRACTION:
        lo, hi = max(0.0, lo - 0.02), min(1.0, hi + 0.02)
    elif hi == lo:
        lo, hi = lo - max(0.02 * abs(lo), 8), hi + max(0.02 * abs(hi), 8)
    pad = 0.08 * (hi - lo) if hi > lo else 0.01
    ax.set_ylim(lo - pad, hi + pad)


def _ticks(n: int, bad: set[int], inches: float) -> list[int]:
    """Which runs get a sha label on an axis ``inches`` wide: every regressed run, then every k-th run and the
    newest where they do not crowd a label already there."""
    step = max(1, math.ceil(n / max(2, int(inches / TICK_INCHES))))
    ticks = set(bad)
    for i in [n - 1, *range(0, n, step)]:
        if all(abs(i - t) >= 0.6 * step for t in ticks):
            ticks.add(i)
    return sorted(ticks)


def _single(runs, metrics, metric, bad, unit, size=(6.4, 2.4)):
    plt = _pyplot()
    fig, axes = _new_axes(plt, size=size)
    ax = axes[0][0]
    ax.set_gid(metric)
    x = np.arange(len(runs))
    y = _series(metrics, metric)
    if metric == TOTAL:
        lo, hi = _series(metrics, TOTAL + ".min"), _series(metrics, TOTAL + ".max")
        ax.fill_between(x, lo, hi, color="#1f77b4", alpha=0.2, lw=0, label="fixtures min–max")
    b = bad.get(metric, set())
    _draw(ax, x, y, metric, b, [_sha(r) for r in runs], _ticks(len(runs), b, size[0] - 0.8))
    _ylim(ax, np.concatenate([y, lo, hi]) if metric == TOTAL else y, metric)
    if metric == TOTAL:
        ax.legend(loc="best", fontsize=7)
    bad_mark = " — regressed" if bad.get(metric) else ""
    ax.set_title(metric + bad_mark, color=RED if bad_mark else "black", loc="left")
    ax.set_ylabel(_unit_label(metric, unit))
    ax.set_xlabel("commit (oldest → newest, * dirty)")
    fig.tight_layout(pad=0.4)
    return fig


def _layers(runs, metrics, layers, bad, unit):
    """Small multiples: each layer's latency on its own axes (own y scale), sha labels on the bottom row only."""
    plt = _pyplot()
    cols = 4 if len(layers) > 4 else len(layers)
    rows = math.ceil(len(layers) / cols)
    fig, axes = _new_axes(plt, rows, cols, size=(3.2 * cols, 1.5 * rows + 0.7))
    x = np.arange(len(runs))
    labels = [_sha(r) for r in runs]
    # the same ticks on every small plot (any layer's regressed runs included) so the columns line up
    ticks = _ticks(len(runs), set().union(*(bad.get(m, set()) for m in layers)), 3.2 - 0.8)
    for k, ax in enumerate(axes.flat):
        if k >= len(layers):
            ax.set_visible(False)
            continue
        metric = layers[k]
        ax.set_gid(metric)
        b = bad.get(metric, set())
        bottom = k + cols >= len(layers)  # nothing drawn below it: its sha labels are the column's
        y = _series(metrics, metric)
        _draw(ax, x, y, metric, b, labels, ticks, tick_labels=bottom)
        _ylim(ax, y, metric)
        ax.set_title(metric[len(LAYER):], color=RED if b else "black", loc="left", fontsize=8)
        if k % cols == 0:
            ax.set_ylabel(unit)
    fig.tight_layout(pad=0.4, h_pad=0.3)
    return fig


# -- tables -----------------------------------------------------------------------------------------------------


def _regressions(results: list[GateResult]) -> list[str]:
    rows = [(g, f) for g in results for f in g.regressions]
    if not rows:
        return ["<h3>Regressions</h3>", "<p class='ok'>no regressions</p>"]
    noisy = any(f.p_value is not None for _, f in rows)  # a p-value column only when the test ran (board cycles)
    out = ["<h3>Regressions</h3>", "<table class='regressions'>",
           "<tr><th>run</th><th>previous run</th><th>metric</th><th>baseline</th><th>now</th><th>change</th>"
           f"<th>threshold</th>{'<th>p</th>' if noisy else ''}</tr>"]
    for g, f in rows:
        p = "" if f.p_value is None else f"{f.p_value:.2g}"
        p = f"<td class='n'>{_e(p)}</td>" if noisy else ""
        out.append(f"<tr class='bad'><td><code>{_e(_run_label(g.run))}</code></td>"
                   f"<td><code>{_e(_run_label(g.baseline))}</code>"
                   f"</td><td>{_e(f.metric)}</td><td class='n'>{_e(value_text(f.metric, f.baseline))}</td>"
                   f"<td class='n'>{_e(value_text(f.metric, f.now))}</td><td class='n'>{_e(f.change_text())}</td>"
                   f"<td>{_e(f.threshold)}</td>{p}</tr>")
    out.append("</table>")
    notes = [(g, n) for g in results for n in g.notes]
    if notes:
        out.append("<ul class='notes'>")
        out += [f"<li><code>{_e(_run_label(g.run))}</code>: {_e(n)}</li>" for g, n in notes]
        out.append("</ul>")
    return out


def _num(v) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    v = float(v)
    return f"{v:,.0f}" if abs(v) >= 1000 or v == int(v) else f"{v:.4g}"


def _runs_table(runs: list[Run], metrics: list[dict]) -> list[str]:
    out = [f"<h3>Runs ({len(runs)}, newest first)</h3>", "<table class='runs'>",
           "<tr><th>id</th><th>time (UTC)</th><th>commit</th><th>build</th><th>kernels</th>"
           f"<th>latency total ({_e(runs[0].unit)})</th><th>AP@0.5</th><th>flash</th><th>RAM</th><th>arena</th>"
           "<th>stack</th></tr>"]
    for run, m in reversed(list(zip(runs, metrics))):
        commit = f"<code>{_e(_sha(run))}</code> {_e(run.branch)}"
        ap = "–" if run.ap50 is None else f"{run.ap50:.3f}"
        out.append(f"<tr><td class='n'>{_e('' if run.id is None else run.id)}</td>"
                   f"<td>{_e(run.time[:19].replace('T', ' '))}</td><td>{commit}</td>"
                   f"<td><code>{_e(run.build_id[:12])}</code></td><td>{'dsp' if run.dsp else 'portable'}</td>"
                   f"<td class='n'>{_e(_num(m.get(TOTAL)))}</td><td class='n'>{_e(ap)}</td>"
                   + "".join(f"<td class='n'>{_e(_num(m.get(name)))}</td>" for name in (FLASH, RAM, ARENA, STACK))
                   + "</tr>")
    out.append("</table>")
    return out
