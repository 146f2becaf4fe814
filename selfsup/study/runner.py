"""What the studies share: train a set of named variants, each in its own folder, evaluate each
as it finishes, and reuse a variant whose ``result.json`` is already there (a study resumes)."""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from ..config import Config
from ..data import build_dataset
from ..eval.dense import dense_probe
from ..eval.robustness import occlusion_grid, robustness
from ..models.tokens import require_vit
from ..train.logging import read_metrics
from ..train.runs import load_run
from ..train.trainer import train


def speed(run_dir: Path) -> dict[str, float]:
    """Mean seconds per epoch and images per second over a run's epochs."""
    epochs = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]
    return {"seconds_per_epoch": sum(r["seconds"] for r in epochs) / len(epochs), "images_per_s": sum(r["images_per_s"] for r in epochs) / len(epochs)}


def evaluate_run(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """A study row: kNN / linear accuracy (from training), occlusion and noise curves, speed, and
    the dense probe's mIoU when the data has masks."""
    run = load_run(run_dir)
    cfg, meta, encoder = run.cfg, run.meta, run.encoder()
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    grid = occlusion_grid(require_vit(encoder, "the study's occlusion test"), meta.image_size)
    row = {
        "knn_acc": summary["knn_acc"],
        "linear_acc": summary["linear_acc"],
        "robustness": robustness(encoder, train_set, test_set, meta.mean, meta.std, grid, cfg.eval.knn_k, cfg.eval.knn_temperature, cfg.eval.linear_epochs, cfg.train.seed),
        **speed(run_dir),
    }
    if test_set.masks is not None:
        row["dense_miou"] = dense_probe(encoder, train_set, test_set, meta.mean, meta.std)["miou"]
    return row


def run_variants(configs: dict[str, Config], evaluate: Callable[[Path, dict[str, Any]], dict[str, Any]], describe: Callable[[dict[str, Any]], str]) -> list[dict[str, Any]]:
    """Train each config (its ``train.out_dir``/``run_name`` is the variant's folder), call
    ``evaluate(run_dir, training summary)`` and keep the row in ``result.json``. Prints one line
    per variant (``describe(row)``) with the time taken and an estimate of the time left."""
    rows, trained, spent = [], 0, 0.0
    pending = sum(not (Path(c.train.out_dir) / c.train.run_name / "result.json").is_file() for c in configs.values())
    for i, (name, cfg) in enumerate(configs.items(), start=1):
        run_dir = Path(cfg.train.out_dir) / cfg.train.run_name
        done = run_dir / "result.json"
        if done.is_file():
            row, note = json.loads(done.read_text()), "reused"
        else:
            start = time.perf_counter()
            row = {"variant": name, **evaluate(run_dir, train(cfg))}
            done.write_text(json.dumps(row, indent=2))
            trained += 1
            spent += time.perf_counter() - start
            left = (pending - trained) * spent / trained
            note = f"{time.perf_counter() - start:.0f} s, about {left / 60:.0f} min left"
        rows.append(row)
        print(f"[{i}/{len(configs)}] {name}: {describe(row)} ({note})", flush=True)
    return rows
