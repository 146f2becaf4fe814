"""The one runner every study shares. A study is data (:class:`Study`): its variants, how each
changes the preset, how a finished run becomes a result row, the table's columns, the rule that
judges its claims and its plot. :func:`run_study` trains the grid variants x seeds, each run in
its own folder, appends each row to ``results.jsonl`` as it finishes, and reuses what is done: a
run with ``result.json`` is not touched, a finished run without it is only evaluated, an
interrupted one resumes from its checkpoint."""

from __future__ import annotations

import copy
import json
import re
import shutil
import time
from pathlib import Path

import yaml
from tqdm import tqdm

from ..config import Config, config_from_dict, config_to_dict
from ..data import build_dataset
from ..eval.dense import dense_probe
from ..eval.robustness import occlusion_grid, robustness
from ..models.tokens import require_vit
from ..train.logging import read_metrics
from ..train.runs import load_run
from ..train.trainer import CHECKPOINT, TrainingDiverged, train
from .floors import floor_rows
from .report import write_study
from .spec import Row, Study
from .stats import MIN_SEEDS


def run_name(variant: str) -> str:
    """A variant's folder: 'no dropping (keep 1.0)' -> 'no_dropping', 'BYOL + LoGo' -> 'BYOL_LoGo'."""
    return re.sub(r"[^A-Za-z0-9.-]+", "_", variant.split(" (")[0]).strip("_")


def run_folder(out_dir: Path, variant: str, seed: int, preset_seed: int) -> Path:
    """``out/<variant>``; seeds other than the preset's get ``out/<variant>-seed<N>``."""
    return out_dir / (run_name(variant) + ("" if seed == preset_seed else f"-seed{seed}"))


def speed(run_dir: Path) -> dict[str, float]:
    """Mean seconds per epoch, images per second and the total training seconds of a run."""
    epochs = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]
    if not epochs:
        return {}
    total = sum(r["seconds"] for r in epochs)
    return {"seconds_per_epoch": total / len(epochs), "images_per_s": sum(r["images_per_s"] for r in epochs) / len(epochs), "train_seconds": total}


def accuracy_row(run_dir: Path, summary: Row) -> Row:
    """kNN and linear accuracy, the collapse monitors and speed from a finished run."""
    keys = ("knn_acc", "linear_acc", "rankme", "embedding_std")
    return {**{k: summary[k] for k in keys if k in summary}, **speed(run_dir)}


def evaluate_run(run_dir: Path, summary: Row) -> Row:
    """:func:`accuracy_row` plus occlusion and noise curves, and the dense probe's mIoU when the
    data has masks (ViT runs)."""
    run = load_run(run_dir)
    cfg, meta, encoder = run.cfg, run.meta, run.encoder()
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    grid = occlusion_grid(require_vit(encoder, "the study's occlusion test"), meta.image_size)
    row = accuracy_row(run_dir, summary)
    row["robustness"] = robustness(encoder, train_set, test_set, meta.mean, meta.std, grid, cfg.eval.knn_k, cfg.eval.knn_temperature, cfg.eval.linear_epochs, cfg.train.seed)
    if test_set.masks is not None:
        row["dense_miou"] = dense_probe(encoder, train_set, test_set, meta.mean, meta.std)["miou"]
    return row


def check_same_config(cfg: Config, run_dir: Path) -> None:
    """A run folder is reused only for the config it was trained with (where it lies and progress
    bars aside; keys added since it was saved count at their defaults)."""
    saved = run_dir / "config.yaml"
    if not saved.is_file() or not any((run_dir / f).is_file() for f in ("result.json", "summary.json", CHECKPOINT)):
        return  # nothing trained there yet: the folder is started afresh
    old, new = config_to_dict(config_from_dict(yaml.safe_load(saved.read_text()))), config_to_dict(cfg)
    ignored = {("train", "progress"), ("train", "out_dir")}
    changed = [f"{s}.{k}: {old[s].get(k)!r} -> {v!r}" for s in new for k, v in new[s].items() if old[s].get(k) != v and (s, k) not in ignored]
    if changed:
        raise ValueError(f"{run_dir} holds a run trained with another config ({'; '.join(changed)}); use another --out or remove that folder")


def train_and_evaluate(cfg: Config, run_dir: Path, study: Study) -> Row:
    """One grid cell: evaluate a finished run, resume an interrupted one, or train a new one. A
    run whose loss became NaN/Inf is a result too: ``diverged`` with the step."""
    if (run_dir / "summary.json").is_file():
        summary = json.loads((run_dir / "summary.json").read_text())
    else:
        resume = (run_dir / CHECKPOINT).is_file()
        if run_dir.is_dir() and not resume:
            shutil.rmtree(run_dir)  # a start that wrote no checkpoint: nothing to keep
        try:
            summary = train(cfg, resume=resume)
        except TrainingDiverged as err:
            step = next(r["step"] for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "diverged")
            return {"diverged": True, "diverged_step": step, "error": str(err), **speed(run_dir), **(study.diverged(run_dir) if study.diverged else {})}
    return {"diverged": False, **study.evaluate(run_dir, summary)}


def run_grid(study: Study, base: Config, out_dir: Path, seeds: list[int], variants: tuple[str, ...]) -> list[Row]:
    """Train every (variant, seed) not done yet, with a progress bar over the grid and an estimate
    of the time left; returns every row (variant, seed, the study's fields) in grid order."""
    cells = [(v, s, run_folder(out_dir, v, s, base.train.seed)) for v in variants for s in seeds]
    pending = sum(not (d / "result.json").is_file() for _, _, d in cells)
    bar = tqdm(total=pending, desc=f"study {study.name}", unit="run", disable=not pending)
    rows, spent, trained = [], 0.0, 0
    for variant, seed, run_dir in cells:
        cfg = copy.deepcopy(study.configure(base, variant))
        cfg.train.seed, cfg.train.out_dir, cfg.train.run_name = seed, str(run_dir.parent), run_dir.name
        check_same_config(cfg, run_dir)
        done = run_dir / "result.json"
        if done.is_file():
            rows.append({"variant": variant, "seed": seed, **speed(run_dir), **json.loads(done.read_text())})
            continue
        start = time.perf_counter()
        row = {"variant": variant, "seed": seed, **train_and_evaluate(cfg, run_dir, study)}
        done.write_text(json.dumps(row, indent=2))
        with open(out_dir / "results.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")
        rows.append(row)
        spent, trained = spent + time.perf_counter() - start, trained + 1
        bar.update(1)
        left = (pending - trained) * spent / trained
        bar.write(f"{variant} (seed {seed}): {describe(row)} ({time.perf_counter() - start:.0f} s; about {left / 60:.0f} min left)")
    bar.close()
    return rows


def describe(row: Row) -> str:
    if row.get("diverged"):
        return f"diverged at step {row['diverged_step']}"
    return ", ".join(f"{label} {row[k]:.1f} %" for k, label in (("knn_acc", "kNN"), ("linear_acc", "linear"), ("dense_miou", "dense mIoU")) if k in row)


def run_study(study: Study, base: Config, out_dir: Path, seeds: list[int] | None = None, variants: tuple[str, ...] | None = None, command: str = "") -> list[Row]:
    """Check the preset, run the grid and write the study's files (see :func:`write_study`)."""
    if base.method.name != study.method:
        raise ValueError(f"the {study.name} study needs a preset with method.name={study.method}; got '{base.method.name}'")
    valid = study.variants(base)
    variants = variants or valid
    unknown = [v for v in variants if v not in valid]
    if unknown:
        raise ValueError(f"unknown variant(s) {unknown}; valid: {', '.join(valid)}")
    seeds = seeds or [base.train.seed + i for i in range(MIN_SEEDS)]  # the rule's minimum: fewer can only be inconclusive
    if len(set(seeds)) != len(seeds):
        raise ValueError(f"--seeds repeats a seed: {seeds}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    groups = {"": base, **(study.floor_groups(base) if study.floor_groups else {})}
    rows = run_grid(study, base, out_dir, seeds, variants) + floor_rows(groups, seeds, out_dir)
    write_study(out_dir, study, base, rows, seeds, command)
    return rows
