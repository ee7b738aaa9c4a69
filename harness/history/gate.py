"""The regression gate: compare a run with its baseline metric by metric, and find every regression in a history.

Deterministic figures (emulator instruction counts, bytes, fingerprints, agreement, AP) regress when they are worse
than the baseline by more than their threshold. Real boards' latency is noisy: it regresses only when the median is
worse by more than the threshold AND a one-sided Mann–Whitney U test over the repeats (pooled over fixtures as ratios
to each fixture's baseline median) finds the slowdown significant at ``alpha`` — a threshold alone either misses real
changes under the noise or cries wolf on shared runners.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from harness.history import metrics
from harness.history.metrics import AP50, FINGERPRINTS, LATENCY, LAYER_PREFIX, TOTAL, is_fraction, lower_is_better
from harness.history.record import Run, run_metrics
from harness.history.stats import mann_whitney_greater, relative_samples
from harness.history.thresholds import Threshold, Thresholds


def worse_when_higher(metric: str) -> bool:
    return lower_is_better(metric)


def value_text(metric: str, value: float, sign: bool = False) -> str:
    """A metric's value for people: 4 decimals for fractions, thousands separators for counts (ticks, bytes…)."""
    plus = "+" if sign and value != 0 else ""
    if is_fraction(metric):
        return f"{value:{plus}.4f}"
    if float(value).is_integer() or abs(value) >= 1000:
        return f"{value:{plus},.0f}"
    return f"{value:{plus},.1f}"  # e.g. the median of an even number of small layer timings


@dataclass(frozen=True)
class Finding:
    """One metric of a run against the baseline's."""

    metric: str
    baseline: float
    now: float
    threshold: Threshold
    regression: bool
    p_value: float | None = None  # noisy latency only: the one-sided Mann–Whitney U p-value

    @property
    def change(self) -> float:
        return self.now - self.baseline

    @property
    def relative(self) -> float | None:
        return self.change / self.baseline if self.baseline else None

    @property
    def improvement(self) -> bool:
        return self.change < 0 if worse_when_higher(self.metric) else self.change > 0

    def change_text(self) -> str:
        """"+1.21 % (+2,031,456)" under a relative threshold, else the signed change: "-0.0120", "+4,096"."""
        absolute = value_text(self.metric, self.change, sign=True)
        if self.threshold.relative and self.relative is not None:
            return f"{self.relative * 100:{'+' if self.change else ''}.2f} % ({absolute})"
        return absolute


def _label(run: Run) -> str:
    name = f"#{run.id} " if run.id is not None else ""
    return f"{name}{run.commit[:10] or '(no commit)'}{'+dirty' if run.dirty else ''}"


@dataclass(frozen=True)
class GateResult:
    baseline: Run
    run: Run
    findings: tuple[Finding, ...]  # every compared metric: latency.total, latency.layer.*, memory.*, fingerprints…
    notes: tuple[str, ...]         # what was not compared and why, and build differences that explain a change

    @property
    def regressions(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.regression)

    @property
    def ok(self) -> bool:
        return not self.regressions

    def title(self) -> str:
        """One line naming both runs, e.g. "nucleo-f429zi/face-rnnpool: #12 3f2a1b9c0d against #11 …: 2 regressions"."""
        n = len(self.regressions)
        verdict = f"{n} regression{'s' if n != 1 else ''}" if n else "no regression"
        return f"{self.run.board}/{self.run.model}: {_label(self.run)} against {_label(self.baseline)}: {verdict}"

    def table(self, only_regressions: bool = True) -> list[str]:
        """Aligned rows, header first: metric | baseline | now | change | threshold (| p when a row is noisy).

        Showing every finding adds a last column marking regressions and improvements. No row to show: [].
        """
        rows = [f for f in self.findings if f.regression or not only_regressions]
        if not rows:
            return []
        noisy = any(f.p_value is not None for f in rows)
        cells = [["metric", "baseline", "now", "change", "threshold"] + (["p"] if noisy else [])]
        for f in rows:
            line = [f.metric, value_text(f.metric, f.baseline), value_text(f.metric, f.now), f.change_text(),
                    str(f.threshold)]
            if noisy:
                line.append("" if f.p_value is None else f"{f.p_value:.2g}")
            cells.append(line)
        if not only_regressions:
            cells[0].append("")
            for f, line in zip(rows, cells[1:]):
                line.append("REGRESSION" if f.regression else "better" if f.improvement else "")
        widths = [max(len(line[i]) for line in cells) for i in range(len(cells[0]))]

        def aligned(line: list[str]) -> str:
            parts = [line[0].ljust(widths[0])] + [c.rjust(w) for c, w in zip(line[1:], widths[1:])]
            if not only_regressions:  # the marker column reads left to right
                parts[-1] = line[-1]
            return "  ".join(parts).rstrip()

        return [aligned(line) for line in cells]


def _build_notes(baseline: Run, run: Run) -> list[str]:
    """Differences in how the two were built and run: the usual reason latency moved without a code change."""
    notes = []
    if baseline.board != run.board:
        notes.append(f"this run is on board {run.board}, the baseline on {baseline.board}")
    if baseline.backend != run.backend:
        notes.append(f"this run ran under {run.backend}, the baseline under {baseline.backend}")
    if baseline.runs_on != run.runs_on:
        notes.append(f"this run ran on {run.runs_on or '(unknown)'}; the baseline on {baseline.runs_on or '(unknown)'}")
    if baseline.dsp != run.dsp:
        def kernels(r: Run) -> str:
            return "DSP" if r.dsp else "portable C"
        notes.append(f"this run's kernels are {kernels(run)}, the baseline's {kernels(baseline)}")
    if baseline.compiler != run.compiler:
        notes.append(f"this run was compiled with {run.compiler or '(unknown)'}, "
                     f"the baseline with {baseline.compiler or '(unknown)'}")
    return notes


def _latency(base: Run, now: Run, mb: dict, mr: dict, thresholds: Thresholds, notes: list[str]) -> list[Finding]:
    if base.unit != now.unit:
        notes.append(f"latency not compared: the baseline counts {base.unit}, this run {now.unit}")
        return []
    layers = [m for m in mr if m.startswith(LAYER_PREFIX)]
    only_now = [m.removeprefix(LAYER_PREFIX) for m in layers if m not in mb]
    only_base = [m.removeprefix(LAYER_PREFIX) for m in mb if m.startswith(LAYER_PREFIX) and m not in mr]
    if only_now:
        notes.append(f"layers only in this run, not compared: {', '.join(only_now)}")
    if only_base:
        notes.append(f"layers only in the baseline, not compared: {', '.join(only_base)}")
    noisy = now.unit != "instructions"  # emulators count instructions deterministically; boards' cycles vary
    base_by_name = {f.name: f for f in base.fixtures}
    findings = []
    for metric in [TOTAL, *layers]:
        if metric not in mb or metric not in mr:
            continue
        threshold = thresholds.for_metric(metric, now.unit)
        worse = threshold.exceeded(mb[metric], mr[metric], lower_is_better=True)
        if not noisy:
            findings.append(Finding(metric, mb[metric], mr[metric], threshold, worse))
            continue
        key = "total" if metric == TOTAL else metric.removeprefix(LAYER_PREFIX)
        pairs = [(base_by_name[f.name].latency[key], f.latency[key]) for f in now.fixtures
                 if key in f.latency and key in base_by_name[f.name].latency]
        p = mann_whitney_greater(*relative_samples([b for b, _ in pairs], [n for _, n in pairs]))
        findings.append(Finding(metric, mb[metric], mr[metric], threshold, worse and p < thresholds.alpha, p))
    return findings


def _ap_note(baseline: Run, run: Run, common: int) -> str | None:
    if baseline.ap50 is None and run.ap50 is None:
        return None  # unlabelled fixtures on both sides: nothing to say
    if baseline.ap50 is None or run.ap50 is None:
        which = "the baseline" if baseline.ap50 is None else "this run"
        return f"AP@0.5 not compared: {which} has none (no labelled face among its fixtures)"
    if common == 0:
        return None  # already said: only memory compared
    return "AP@0.5 not compared: it is only comparable over the same fixtures, and the fixture sets differ"


def _fingerprints(base: Run, now: Run, thresholds: Thresholds, notes: list[str]) -> list[Finding]:
    """How many common fixtures changed a layer's fingerprint; only meaningful under the same model."""
    if base.model_id != now.model_id:
        notes.append(f"model changed ({base.model_id[:12]} → {now.model_id[:12]}): fingerprints not compared")
        return []
    base_by_name = {f.name: f for f in base.fixtures}
    changed = sum(f.fingerprints != base_by_name[f.name].fingerprints for f in now.fixtures)
    threshold = thresholds.for_metric(FINGERPRINTS, now.unit)
    return [Finding(FINGERPRINTS, 0.0, float(changed), threshold,
                    threshold.exceeded(0.0, changed, lower_is_better=True))]


def _listed(words: list[str]) -> str:
    return ", ".join(words[:-1]) + " and " + words[-1] if len(words) > 1 else "".join(words)


def compare_runs(baseline: Run, run: Run, thresholds: Thresholds) -> GateResult:
    """Every metric both runs have, on the fixtures both ran, against ``thresholds``; see the module docstring.

    Noisy latency with one sample per fixture is still tested: every baseline ratio is then 1, and the test asks
    whether the new ratios sit above 1 across the fixtures — five fixtures or more can reach p < 0.01.
    """
    notes = _build_notes(baseline, run)
    names = set(baseline.fixture_names())
    common = [name for name in run.fixture_names() if name in names]
    nb, nr = len(baseline.fixtures), len(run.fixtures)
    if not common:
        always = _listed([m.label for m in metrics.gated() if not m.fixtures])
        notes.append(f"no fixture in common (the baseline has {nb}, this run {nr}): only {always} compared")
    elif len(common) != nb or len(common) != nr:
        notes.append(f"compared on the {len(common)} fixtures both runs have; the baseline has {nb}, this run {nr}")
    base, now = baseline.restricted(common), run.restricted(common)
    mb, mr = run_metrics(base), run_metrics(now)

    findings = _latency(base, now, mb, mr, thresholds, notes) if common else []
    for m in metrics.gated():  # the registry's order
        if m.family == LATENCY or (m.fixtures and not common):
            continue  # latency: above; a figure over the fixtures needs fixtures in common
        if m.name == FINGERPRINTS:
            findings += _fingerprints(base, now, thresholds, notes)
        elif m.name in mb and m.name in mr:
            threshold = thresholds.for_metric(m.name, now.unit)
            findings.append(Finding(m.name, mb[m.name], mr[m.name], threshold,
                                    threshold.exceeded(mb[m.name], mr[m.name], lower_is_better=m.lower_is_better)))
        elif m.name == AP50:
            if (note := _ap_note(baseline, run, len(common))) is not None:
                notes.append(note)
        elif (m.name in mb) != (m.name in mr):
            which = "the baseline" if m.name not in mb else "this run"
            notes.append(f"{m.name} not compared: {which} {m.missing}")
    return GateResult(baseline, run, tuple(findings), tuple(notes))


def find_regressions(runs: Sequence[Run], thresholds: Thresholds) -> list[GateResult]:
    """Every comparison with a regression, in order: each run against the previous run of its (board, model).

    ``runs`` are oldest first and may mix keys. A regression stays reported where it happened even when later runs
    are worse still, so a history lists each step, not only the latest.
    """
    previous: dict[tuple[str, str], Run] = {}
    found = []
    for run in runs:
        if (before := previous.get(run.key)) is not None:
            result = compare_runs(before, run, thresholds)
            if not result.ok:
                found.append(result)
        previous[run.key] = run
    return found
