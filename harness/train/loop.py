"""The training loop: resumable (checkpoint every few hundred steps, data order a function of the step), CPU-only,
then export to a quantised harness model file with a JSON training record."""

from __future__ import annotations

import json
import math
import platform
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np

from harness.errors import DependencyError, UsageError
from harness.model.archs import build_config
from harness.model.detect import priors
from harness.train.data import TRAIN_SEED, VALIDATION_SEED, load_pool, make_scenes, train_spec
from harness.train.operating import operating_threshold, with_threshold
from harness.train.targets import match

VALIDATION_SCENES = 128


@dataclass(frozen=True)
class TrainConfig:
    arch: str = "rpool-face-m4"
    nonlinearity: str = "exact"
    steps: int = 6000
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    warmup: int = 200
    seed: int = 0
    pool: int = 20000
    height: int = 120          # training crops; the exported model runs at 320×240
    width: int = 160
    threads: int = 2
    checkpoint_every: int = 200
    log_every: int = 50
    calibration_images: int = 16


def _torch():
    try:
        import torch
    except ImportError as exc:
        raise DependencyError("training needs PyTorch: pip install -e '.[torch]'") from exc
    return torch


def lr_at(cfg: TrainConfig, step: int) -> float:
    """Linear warm-up, then cosine decay to 1 % of the peak."""
    if step < cfg.warmup:
        return cfg.lr * (step + 1) / cfg.warmup
    t = (step - cfg.warmup) / max(1, cfg.steps - cfg.warmup)
    return cfg.lr * (0.01 + 0.99 * 0.5 * (1 + math.cos(math.pi * t)))


def _batch(cfg, step, images, boxes, pri, variance, mean):
    """Batch ``step``: a pure function of (seed, step), so a resumed run sees the same data."""
    rng = np.random.default_rng([cfg.seed, step])
    idx = rng.integers(0, len(images), cfg.batch)
    flips = rng.random(cfg.batch) < 0.5
    x = images[idx].astype(np.float32)
    labels, locs = [], []
    for k, (i, flip) in enumerate(zip(idx, flips)):
        b = boxes[i].astype(np.float64).copy()
        if flip:
            x[k] = x[k, :, ::-1]
            b[:, [0, 2]] = cfg.width - b[:, [2, 0]]
        b /= np.array([cfg.width, cfg.height, cfg.width, cfg.height])
        lab, loc = match(b, pri, variance)
        labels.append(lab)
        locs.append(loc)
    return (x - mean)[:, None], np.stack(labels), np.stack(locs)


def _save(path: Path, state: dict) -> None:
    torch = _torch()
    tmp = path.with_suffix(".tmp")
    torch.save(state, tmp)
    tmp.replace(path)  # atomic: an interrupted save never corrupts the checkpoint


def train(cfg: TrainConfig, out: Path, progress=print) -> dict:
    """Train (or resume) into ``out``; returns the state of the last checkpoint."""
    torch = _torch()
    from harness.train.loss import multibox_loss
    from harness.train.net import RPoolFace

    torch.set_num_threads(cfg.threads)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    mcfg = build_config(cfg.arch, cfg.height, cfg.width, cfg.nonlinearity)
    pri, variance = priors(mcfg), mcfg["priors"]["variance"]
    mean = mcfg["normalization"]["mean"]
    images, boxes = load_pool(out, train_spec(cfg.height, cfg.width), TRAIN_SEED, cfg.pool, progress)

    torch.manual_seed(cfg.seed)
    net = RPoolFace(cfg.arch, hard=cfg.nonlinearity == "hard")
    opt = torch.optim.AdamW(net.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    ckpt = out / "checkpoint.pt"
    state = {"step": 0, "history": [], "seconds": 0.0}
    if ckpt.is_file():
        saved = torch.load(ckpt, map_location="cpu", weights_only=False)
        if saved["config"] != asdict(cfg):
            raise UsageError(f"{ckpt} was made with another configuration; use another --out or delete it")
        net.load_state_dict(saved["net"])
        opt.load_state_dict(saved["opt"])
        state = {k: saved[k] for k in ("step", "history", "seconds")}
        progress(f"resuming at step {state['step']}/{cfg.steps}")
    net.train()
    t0, acc = time.monotonic(), []
    while state["step"] < cfg.steps:
        step = state["step"]
        for g in opt.param_groups:
            g["lr"] = lr_at(cfg, step)
        x, labels, loc_t = _batch(cfg, step, images, boxes, pri, variance, mean)
        conf, loc = net(torch.from_numpy(np.ascontiguousarray(x)))
        loss_l, loss_c = multibox_loss(conf, loc, torch.from_numpy(labels), torch.from_numpy(loc_t))
        opt.zero_grad()
        (loss_l + loss_c).backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 10.0)
        opt.step()
        acc.append((loss_l.item(), loss_c.item()))
        state["step"] = step + 1
        if state["step"] % cfg.log_every == 0 or state["step"] == cfg.steps:
            ll, lc = np.mean(acc, axis=0)
            acc = []
            elapsed = state["seconds"] + time.monotonic() - t0
            state["history"].append({"step": state["step"], "loc": round(float(ll), 4), "conf": round(float(lc), 4),
                                     "lr": round(lr_at(cfg, step), 6), "seconds": round(elapsed, 1)})
            rate = state["step"] / elapsed if elapsed else 0.0
            eta = (cfg.steps - state["step"]) / rate if rate else 0.0
            progress(f"step {state['step']}/{cfg.steps}  loc {ll:.3f}  conf {lc:.3f}  "
                     f"{rate * cfg.batch:.0f} img/s  eta {eta / 60:.0f} min")
        if state["step"] % cfg.checkpoint_every == 0 or state["step"] == cfg.steps:
            state["seconds"] += time.monotonic() - t0
            t0 = time.monotonic()
            _save(ckpt, {"config": asdict(cfg), "net": net.state_dict(), "opt": opt.state_dict(), **state})
    state["net"] = net
    return state


def export(cfg: TrainConfig, state: dict, out: Path, progress=print, validation_scenes: int = VALIDATION_SCENES
           ) -> Path:
    """Trained net → quantised model file ``out/model.npz`` (320×240) and ``out/train.json``."""
    torch = _torch()
    from harness.model.edgeml import from_state_dict
    from harness.model.modelfile import save
    from harness.model.quantize import quantize

    net = state["net"].eval()
    sd = {k: v.detach().cpu().float().numpy() for k, v in net.state_dict().items()}
    model = from_state_dict(sd, cfg.arch, 240, 320, cfg.nonlinearity, source="trained net")
    calib, _ = make_scenes(train_spec(240, 320), TRAIN_SEED + 1, cfg.calibration_images)
    progress(f"quantising with {len(calib)} calibration scenes")
    model = quantize(model, list(calib))
    val_images, val_boxes = make_scenes(train_spec(240, 320), VALIDATION_SEED, validation_scenes)
    threshold, val = operating_threshold(model, val_images, val_boxes)
    progress(f"operating threshold {threshold:.2f} (best F1 on {validation_scenes} validation scenes: "
             f"AP@0.5 {val.ap50:.3f}, precision {val.precision:.3f}, recall {val.recall:.3f})")
    model = with_threshold(model, threshold)
    path = save(model, Path(out) / "model.npz")
    record = {"model_id": model.model_id, "config": asdict(cfg), "train_seed": TRAIN_SEED,
              "calibration_seed": TRAIN_SEED + 1, "steps": state["step"],
              "validation": {"seed": VALIDATION_SEED, "scenes": validation_scenes, "threshold": threshold,
                             **val.as_dict()},
              "train_seconds": round(state["seconds"], 1), "torch": torch.__version__,
              "python": platform.python_version(), "machine": platform.machine(),
              "crops": {"train_faces": "lfw_subset 0-69", "train_nonfaces": "lfw_subset 100-169",
                        "held_out": "faces 70-99 and non-faces 170-199 (fixtures only)"},
              "history": state["history"]}
    (Path(out) / "train.json").write_text(json.dumps(record, indent=1) + "\n")
    if state["history"]:
        from harness.pictures.plots import save_training_curve

        save_training_curve(state["history"], Path(out) / "train.png")
    return path
