"""SimCLR vs BYOL under smaller batches and weaker augmentation (Grill et al. 2020, BYOL, Fig. 3):
BYOL, which uses no negatives, loses less accuracy than SimCLR when the batch shrinks or when
the colour augmentations are removed. Also SimCLR's own claim (Chen et al. 2020, Fig. 9):
SimCLR gains from larger batches, i.e. from more negatives (2(N-1) per anchor).

Both methods share the preset's data, backbone, augmentations, optimizer and epochs. The batch
runs at the preset's batch B and B/2, B/4, B/8 (epochs fixed, so smaller batches take more
steps); the learning rate follows the optimizer's scaling rule (linear for SGD / LARS, square
root for AdamW) and BYOL's EMA momentum the EMA scaling rule tau ** (b / B) (Busbridge et al.
2023), so the target averages over the same number of images at every batch.

The colour part needs colour: it runs on ``shapes`` (coloured shapes, the class is the shape) with
the shapes presets' augmentations (strong hue and saturation jitter, grayscale, large crops,
max-pooled tokens) at twice the preset's epochs, with all of them and with "crop+flip only"
(colour jitter, grayscale, blur and solarize off), and reports the colour attribute's kNN
beside the shape's: without colour augmentation colour becomes a shortcut. These runs face
the random-init floor measured on ``shapes``."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml

from ..config import Config, SimCLRConfig
from ..data import build_dataset
from ..eval.features import extract_features
from ..eval.knn import knn_accuracy
from ..train.runs import load_run
from .floors import RANDOM_INIT, floor_name
from .report import claim, col, compare, floored, gain, verdict
from .runner import accuracy_row
from .spec import Study
from .stats import Difference

METHODS = ("SimCLR", "BYOL")
WEAK = "crop+flip only"
COLOUR = "shapes"  # the colour part's data (and its floor group)
FULL_COLOUR, WEAK_COLOUR = COLOUR, f"{COLOUR}, {WEAK}"  # the colour part's two settings
COLOUR_ATTRIBUTE = 1  # shapes' attributes: shape, colour, size, background
COLOUR_EPOCHS = 2  # x the preset's epochs: at 10 epochs SimCLR on shapes is at its random-init floor (kNN 51 vs 51.5 %)


def batch_sizes(base: Config) -> tuple[int, ...]:
    return tuple(base.data.batch_size // 2**i for i in range(4))


def variants(base: Config) -> tuple[str, ...]:
    return tuple(f"{m}, batch {b}" for m in METHODS for b in batch_sizes(base)) + tuple(f"{m}, {s}" for m in METHODS for s in (FULL_COLOUR, WEAK_COLOUR))


def colour_config(base: Config) -> Config:
    """The preset on ``shapes`` with the shapes presets' augmentations and pooling."""
    cfg = copy.deepcopy(base)
    cfg.data.name = COLOUR
    cfg.augment.global_scale, cfg.augment.hflip = (0.8, 1.0), True  # small objects: smaller crops miss the shape
    cfg.augment.hue, cfg.augment.saturation, cfg.augment.grayscale_prob = 0.5, 0.8, 0.3
    cfg.model.global_pool = "max"
    cfg.train.epochs = COLOUR_EPOCHS * base.train.epochs
    return cfg


def variant_config(base: Config, variant: str) -> Config:
    method, setting = variant.split(", ", 1)
    cfg = colour_config(base) if setting.startswith(COLOUR) else copy.deepcopy(base)
    if method == "SimCLR":
        cfg.method = SimCLRConfig()
    if setting == WEAK_COLOUR:
        cfg.augment.jitter_prob = cfg.augment.grayscale_prob = 0.0
        cfg.augment.blur_prob, cfg.augment.solarize_prob = [0.0], [0.0]
    if setting.startswith(COLOUR):
        return cfg
    b = int(setting.removeprefix("batch "))
    ratio = b / base.data.batch_size
    cfg.data.batch_size = b
    cfg.optim.lr = base.optim.lr * (ratio if base.optim.name in ("sgd", "lars") else math.sqrt(ratio))
    if method == "BYOL":
        cfg.method.momentum = base.method.momentum**ratio
    return cfg


def evaluate(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """Accuracy, collapse monitors and speed, with the batch and the negatives per anchor."""
    saved = yaml.safe_load((run_dir / "config.yaml").read_text())
    batch = saved["data"]["batch_size"]
    negatives = 2 * (batch - 1) if saved["method"]["name"] == "simclr" else 0
    row = {**accuracy_row(run_dir, summary), "batch": batch, "negatives": negatives}
    return {**row, "colour_knn": colour_knn(run_dir)} if saved["data"]["name"] == COLOUR else row


def colour_knn(run_dir: Path) -> float:
    """kNN accuracy (%) on the colour attribute of ``shapes`` with the run's features."""
    run = load_run(run_dir)
    cfg, encoder = run.cfg, run.encoder()
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    ftr, _ = extract_features(encoder, train_set, run.meta.mean, run.meta.std, cfg.eval.batch_size)
    fte, _ = extract_features(encoder, test_set, run.meta.mean, run.meta.std, cfg.eval.batch_size)
    return knn_accuracy(ftr, train_set.attributes[:, COLOUR_ATTRIBUTE], fte, test_set.attributes[:, COLOUR_ATTRIBUTE], cfg.eval.knn_k, cfg.eval.knn_temperature)


def batches_run(by: dict[str, dict[str, Any]]) -> list[int]:
    return sorted({int(name.rsplit(" ", 1)[1]) for name in by if ", batch " in name})


def _drop(by: dict[str, dict[str, Any]], method: str, weaker: str, stronger: str) -> Difference:
    return gain(by[f"{method}, {stronger}"], by[f"{method}, {weaker}"])


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Accuracy lost (mean of kNN and linear points) from the largest to the smallest batch run,
    and from full augmentation to crop+flip, per method, seed by seed; BYOL 'degrades less' when
    SimCLR's loss minus BYOL's passes the rule (:mod:`selfsup.study.stats`) with the margin."""
    batches = batches_run(by)
    out = []
    small, large = (f"batch {batches[0]}", f"batch {batches[-1]}") if batches else ("", "")
    if len(batches) > 1 and all(f"{m}, {s}" in by for m in METHODS for s in (small, large)):
        ds, db = _drop(by, "SimCLR", small, large), _drop(by, "BYOL", small, large)
        references = [f"{m}, {large}" for m in METHODS]
        out.append(
            claim(
                f"BYOL loses less accuracy than SimCLR when the batch shrinks ({batches[-1]} -> {batches[0]})",
                f"from batch {batches[-1]} to {batches[0]}: SimCLR {-ds.mean:+.1f} points, BYOL {-db.mean:+.1f} (mean of kNN and linear); SimCLR's loss minus BYOL's {(ds - db).text()}",
                floored(by, verdict(ds - db), references),
            )
        )
        ds, outcome = compare(by, f"SimCLR, {large}", f"SimCLR, {small}")
        out.append(claim(f"SimCLR gains from a larger batch (more negatives: {2 * (batches[0] - 1)} -> {2 * (batches[-1] - 1)} per anchor)", f"{ds.text()} points from batch {batches[0]} to {batches[-1]}", outcome))
    if all(f"{m}, {s}" in by for m in METHODS for s in (FULL_COLOUR, WEAK_COLOUR)):
        ds, db = _drop(by, "SimCLR", WEAK_COLOUR, FULL_COLOUR), _drop(by, "BYOL", WEAK_COLOUR, FULL_COLOUR)
        colour = ", ".join(f"{m} {by[f'{m}, {FULL_COLOUR}'].get('colour_knn', math.nan):.1f} -> {by[f'{m}, {WEAK_COLOUR}'].get('colour_knn', math.nan):.1f}" for m in METHODS)
        out.append(
            claim(
                f"BYOL loses less accuracy than SimCLR without colour augmentations (crop+flip only, on {COLOUR})",
                f"without them: SimCLR {-ds.mean:+.1f} points, BYOL {-db.mean:+.1f} (mean of shape kNN and linear); SimCLR's loss minus BYOL's {(ds - db).text()}; colour kNN {colour} %",
                floored(by, verdict(ds - db), [f"{m}, {FULL_COLOUR}" for m in METHODS], floor_name(RANDOM_INIT, COLOUR)),
            )
        )
    return out


def plot(by: dict[str, dict[str, Any]], path: Path) -> Path:
    """kNN and linear accuracy against batch size per method (negatives per anchor under each
    batch), and full augmentation vs crop+flip only."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (ax_b, ax_a) = plt.subplots(1, 2, figsize=(12, 4.5), gridspec_kw={"width_ratios": [1.4, 1]})
    spread = any(r["n"] > 1 for r in by.values())
    for colour, method in zip(("tab:blue", "tab:orange"), METHODS):
        rows = sorted((r for name, r in by.items() if name.startswith(f"{method}, batch") and r["n"]), key=lambda r: r["batch"])
        for key, style in (("knn_acc", "-"), ("linear_acc", "--")):
            ax_b.errorbar([r["batch"] for r in rows], [r[key] for r in rows], yerr=[r["std"][key] for r in rows] if spread else None, color=colour, linestyle=style, marker="o", capsize=3, label=f"{method} {'kNN' if key == 'knn_acc' else 'linear'}")
    batches = batches_run(by)
    ax_b.set_xscale("log", base=2)
    ax_b.set_xticks(batches, [f"{b}\n({2 * (b - 1)} neg.)" for b in batches])
    ax_b.set(xlabel="batch size (SimCLR negatives per anchor)", ylabel="accuracy (%)", title="accuracy vs batch size")
    ax_b.grid(alpha=0.3)
    ax_b.legend(fontsize=8)
    width, x = 0.2, np.arange(len(METHODS))
    for i, (setting, key) in enumerate((("full", "knn_acc"), ("full", "linear_acc"), (WEAK, "knn_acc"), (WEAK, "linear_acc"))):
        names = [f"{m}, {FULL_COLOUR if setting == 'full' else WEAK_COLOUR}" for m in METHODS]
        rows = [by.get(n, {}) for n in names]
        ax_a.bar(x + (i - 1.5) * width, [r.get(key, 0.0) for r in rows], width, yerr=[r["std"].get(key, 0.0) for r in rows] if spread else None, color="tab:blue" if key == "knn_acc" else "tab:orange", label=f"{setting} aug, {'kNN' if key == 'knn_acc' else 'linear'}", hatch="//" if setting == WEAK else None)
    ax_a.set_xticks(x, METHODS)
    ax_a.set(ylabel="accuracy (%)", title=f"full augmentation vs {WEAK} ({COLOUR}, shape label)", ylim=(0, 105))
    ax_a.legend(fontsize=8, ncol=2, loc="upper center")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


STUDY = Study(
    name="simclr-vs-byol",
    title="SimCLR vs BYOL under smaller batches and weaker augmentation",
    question="BYOL, which uses no negatives, loses less accuracy than SimCLR when the batch shrinks or the colour augmentations are removed (Grill et al. 2020, Fig. 3); SimCLR gains from larger batches, i.e. more negatives, 2(N-1) per anchor (Chen et al. 2020, Fig. 9). Epochs fixed; learning rate scaled by the optimizer's rule (AdamW: square root), BYOL's EMA momentum as tau ** (b / B). The colour part runs on shapes (coloured, the class is the shape) with strong colour jitter at twice the epochs, and with crop+flip only (colour jitter, grayscale, blur and solarize off); the colour attribute's kNN is shown beside the shape's, and these runs face the floors measured on shapes.",
    method="byol",
    preset="configs/claims_simclr_vs_byol_mnist.yaml",
    gpu_preset="configs/claims_simclr_vs_byol_cifar10_gpu.yaml",
    variants=variants,
    configure=variant_config,
    evaluate=evaluate,
    columns=(col("batch", "batch", fmt=".0f"), col("negatives / anchor", "negatives", fmt=".0f"), col("kNN %", "knn_acc"), col("linear %", "linear_acc"), col("colour kNN %", "colour_knn"), col("RankMe", "rankme"), col("img/s", "images_per_s", fmt=".0f"), col("train s", "train_seconds", fmt=".0f")),
    floor_groups=lambda base: {COLOUR: colour_config(base)},
    judge=judge_claims,
    plot=plot,
    plot_name="simclr_vs_byol.png",
)
