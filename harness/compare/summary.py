"""The terminal summary of device runs: one row per run, then the spread over runs."""

from __future__ import annotations

import statistics


def summary_lines(rows: list[tuple[str, dict]]) -> list[str]:
    """``rows``: (test id, properties recorded by the plugin's ``record_device_run``)."""
    unit = rows[0][1]["unit"]
    ms = "latency_ms" in rows[0][1]
    farm = any("farm.place" in p for _, p in rows)  # a labgrid farm: say which physical board ran each
    head = (f"{'run':<44} {unit:>13}" + (f" {'ms':>9}" if ms else "") + f" {'stack B':>8} {'arena B':>8}"
            + ("  ran on (place, exporter, probe)" if farm else ""))
    lines = [f"board {rows[0][1]['board']} — {rows[0][1]['runs_on']}", head]
    for nodeid, p in sorted(rows):
        test = nodeid.split("::")[-1]
        name = (test[test.index("[") + 1:-1] if test.endswith("]") else test)[-44:]  # the parameter, if any
        lines.append(f"{name:<44} {p['latency']:>13,}" + (f" {p['latency_ms']:>9.2f}" if ms else "")
                     + f" {p['stack_bytes']:>8,} {p['arena_bytes']:>8,}"
                     + (f"  {p.get('farm.place')}, {p.get('farm.exporter')}, {p.get('farm.probe')}" if farm else ""))
    totals = [p["latency"] for _, p in rows]
    lines.append(f"{len(rows)} runs: {unit} min {min(totals):,}, median {statistics.median(totals):,.0f}, "
                 f"max {max(totals):,}; RAM {rows[0][1]['ram_bytes']:,} B, flash {rows[0][1]['flash_bytes']:,} B, "
                 f"stack high-water max {max(p['stack_bytes'] for _, p in rows):,} B")
    if rows[0][1].get("latency_prediction"):
        lines.append(f"latency not checked against predictions: {rows[0][1]['latency_prediction']}")
    elif any(k.startswith("predicted.") for k in rows[0][1]):
        worst = max(((p[f"layer.{k[10:]}"] / v, k[10:], nodeid) for nodeid, p in rows for k, v in p.items()
                     if k.startswith("predicted.") and v), default=None)
        if worst:
            lines.append(f"latency vs calibrated prediction: worst layer {worst[1]} at {100 * (worst[0] - 1):+.1f}% "
                         f"({worst[2].split('::')[-1]})")
    return lines
