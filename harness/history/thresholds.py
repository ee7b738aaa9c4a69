"""How much worse than its baseline a run may be, per metric: ``[tool.harness.thresholds]`` in pyproject.toml.

Every metric belongs to a family with a default (``DEFAULTS``); the table may change a family or override single
metrics by full name or glob ("memory.stack_bytes" = 64, "latency.layer.*" = "1%"). A value is a number (absolute,
in the metric's unit) or a string "N%" (relative to the baseline's value).
"""

from __future__ import annotations

import math
import re
import tomllib
from dataclasses import dataclass
from fnmatch import fnmatchcase
from pathlib import Path

from harness.errors import UsageError
from harness.history import metrics
from harness.history.metrics import LATENCY, is_layer

TABLE = "[tool.harness.thresholds]"
GLOB_CHARS = "*?["
METRIC_ROOTS = metrics.roots()
# The gated metrics of harness/history/metrics.py; latency.layer.<any layer> is gated too.
GATED = tuple(m.name for m in metrics.gated())
_PERCENT = re.compile(r"\s*(\d+(?:\.\d*)?|\.\d+)\s*%\s*")


@dataclass(frozen=True)
class Threshold:
    """How much worse than the baseline a metric may get: ``limit`` in the metric's unit, or percent when relative."""

    limit: float
    relative: bool

    def __str__(self) -> str:
        return f"{self.limit:g}%" if self.relative else f"{self.limit:g}"

    def allowed(self, baseline: float) -> float:
        """The largest worsening tolerated from ``baseline``, in the metric's unit."""
        return abs(baseline) * self.limit / 100.0 if self.relative else self.limit

    def exceeded(self, baseline: float, now: float, lower_is_better: bool) -> bool:
        """``now`` is worse than ``baseline`` by more than the limit."""
        worse = now - baseline if lower_is_better else baseline - now
        # Float noise must not turn "exactly at the limit" (0.85 → 0.845 with 0.005) into a regression.
        slack = 1e-9 * max(abs(baseline), abs(now), 1.0)
        return worse - self.allowed(baseline) > slack


@dataclass(frozen=True)
class Thresholds:
    rules: dict[str, Threshold]  # family, metric name or glob → threshold (every family present)
    alpha: float                 # significance level of the test on noisy latency
    source: str                  # "pyproject.toml [tool.harness.thresholds]" or "defaults"

    def for_metric(self, metric: str, unit: str) -> Threshold:
        """Exact metric name, else the longest matching glob, else the metric's family."""
        if metric in self.rules and metric not in DEFAULTS:
            return self.rules[metric]
        globs = [key for key in self.rules if any(c in key for c in GLOB_CHARS) and fnmatchcase(metric, key)]
        if globs:
            return self.rules[max(globs, key=len)]
        return self.rules[family(metric, unit)]


def family(metric: str, unit: str) -> str:
    """The threshold family of a gated metric; ``unit`` is the run's latency unit."""
    m = metrics.get(metric)
    if m is not None and m.family == LATENCY:
        return "instructions" if unit == "instructions" else "cycles"
    if m is not None:
        return m.family
    raise ValueError(f"{metric!r} is not a gated metric; gated: {', '.join(GATED)}, latency.layer.<layer>")


def defaults() -> Thresholds:
    return Thresholds(dict(DEFAULTS), DEFAULT_ALPHA, "defaults")


def _looks_like_metric(key: str) -> bool:
    if any(c in key for c in GLOB_CHARS):  # a glob: its first part must name (or match) a metric namespace
        root = key.split(".")[0]
        return "." in key and any(fnmatchcase(r, root) for r in METRIC_ROOTS)
    return key in GATED or is_layer(key)


def _flatten(table: dict, prefix: str = "") -> dict:
    """Unquoted dotted keys (memory.stack_bytes = 64) arrive as nested tables; gather them back into names."""
    out = {}
    for key, value in table.items():
        name = f"{prefix}{key}"
        out.update(_flatten(value, name + ".") if isinstance(value, dict) else {name: value})
    return out


def parse_threshold(value, where: str, key: str) -> Threshold:
    bad = UsageError(f"{where}: {key} = {value!r} is not a threshold; use a number (absolute) or 'N%'")
    if isinstance(value, bool):
        raise bad
    if isinstance(value, int | float):
        if not math.isfinite(value) or value < 0:
            raise bad
        return Threshold(float(value), False)
    if isinstance(value, str) and (m := _PERCENT.fullmatch(value)):
        return Threshold(float(m.group(1)), True)
    raise bad


# Family → default threshold (harness/history/metrics.py FAMILIES, and the families metrics open there).
DEFAULTS: dict[str, Threshold] = {name: parse_threshold(value, "harness/history/metrics.py", name)
                                  for name, value in metrics.family_defaults().items()}
DEFAULT_ALPHA = 0.01
# Gated metric → its family (latency's depends on the run's unit: see family()).
FAMILY_OF = {m.name: m.family for m in metrics.gated() if m.family != LATENCY}


def parse_table(table: dict, source: str) -> Thresholds:
    rules, alpha = dict(DEFAULTS), DEFAULT_ALPHA
    for key, value in _flatten(table).items():
        if key == "alpha":
            if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 0.5:
                raise UsageError(f"{source}: alpha = {value!r} is not a significance level; use a number in (0, 0.5]")
            alpha = float(value)
        elif key in DEFAULTS or _looks_like_metric(key):
            rules[key] = parse_threshold(value, source, key)
        else:
            raise UsageError(f"{source}: {key!r} is neither a family ({', '.join(DEFAULTS)}, alpha) nor a metric name "
                             f"or glob; use e.g. \"memory.stack_bytes\" or \"latency.layer.*\"")
    return Thresholds(rules, alpha, source)


def project_pyproject(cwd: Path | None = None) -> Path | None:
    """The workspace's pyproject.toml (harness/project.py), else the first one walking up from ``cwd``."""
    from harness.project import workspace

    cwd = Path.cwd() if cwd is None else Path(cwd)
    if workspace(cwd).pyproject.is_file():
        return workspace(cwd).pyproject
    for folder in (cwd.resolve(), *cwd.resolve().parents):
        if (folder / "pyproject.toml").is_file():
            return folder / "pyproject.toml"
    return None


def load_thresholds(pyproject: str | Path | None = None) -> Thresholds:
    """The thresholds of ``pyproject`` (None: the project's); the defaults when the file or the table is absent."""
    if pyproject is None:
        path = project_pyproject()
        if path is None:
            return defaults()
    else:
        path = Path(pyproject)
        if not path.is_file():
            raise UsageError(f"{path}: no such file; name the project's pyproject.toml")
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as err:
        raise UsageError(f"{path}: not readable TOML ({err}); fix the file") from err
    table = data.get("tool", {}).get("harness", {}).get("thresholds")
    if table is None:
        return defaults()
    if not isinstance(table, dict):
        raise UsageError(f"{path.name} {TABLE}: must be a table; see the harness README")
    return parse_table(table, f"{path.name} {TABLE}")
