"""Pictures of accuracy results (matplotlib, headless)."""

from __future__ import annotations

from pathlib import Path

from harness.errors import InputError


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")  # headless: CI machines and benches have no display
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path) -> Path:
    path = Path(path)
    try:
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path)
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror or exc}") from exc
    finally:
        _pyplot().close(fig)
    return path


def save_pr_curve(ev, path) -> Path:
    """Precision/recall curve of an ``Evaluation``, per subset and overall, with the operating point marked."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(5, 4), dpi=120)
    for name, acc in [*sorted(ev.subsets.items()), ("all", ev.overall)]:
        if acc.curve:
            _, prec, rec = zip(*acc.curve)
            ax.plot(rec, prec, lw=2 if name == "all" else 1, label=f"{name}: AP {acc.ap50:.3f}")
    ax.plot([ev.overall.recall], [ev.overall.precision], "ko", label=f"operating point (score ≥ {ev.threshold:g})")
    ax.set(xlabel="recall", ylabel="precision", xlim=(0, 1.02), ylim=(0, 1.02),
           title=f"model {ev.model_id} ({ev.mode}), IoU 0.5")
    ax.grid(alpha=0.3)
    ax.legend(loc="lower left", fontsize=8)
    return _save(fig, path)


def save_training_curve(history: list[dict], path) -> Path:
    """Loss curves (localisation and confidence) and learning rate of a training record's history."""
    plt = _pyplot()
    steps = [h["step"] for h in history]
    fig, ax = plt.subplots(figsize=(5, 3.5), dpi=120)
    ax.plot(steps, [h["loc"] for h in history], label="localisation (smooth L1)")
    ax.plot(steps, [h["conf"] for h in history], label="confidence (cross-entropy)")
    ax.set(xlabel="step", ylabel="loss per matched prior", yscale="log")
    ax.grid(alpha=0.3, which="both")
    lr = ax.twinx()
    lr.plot(steps, [h["lr"] for h in history], color="grey", lw=0.8, ls="--", label="learning rate")
    lr.set_ylabel("learning rate")
    lines = ax.get_legend_handles_labels()
    more = lr.get_legend_handles_labels()
    ax.legend(lines[0] + more[0], lines[1] + more[1], fontsize=8, loc="upper right")
    return _save(fig, path)
