"""What keeps BYOL from collapsing (Grill et al. 2020, BYOL, Table 5): without the predictor, or with
the target an exact copy of the online network (EMA momentum 0), BYOL collapses to a constant
representation (0.2 % and 0.3 % top-1 on ImageNet). SimSiam (Chen & He 2021) later found that
stop-gradient plus the predictor suffice, i.e. momentum 0 need not collapse.

Four runs of one BYOL preset: {predictor, none} x {EMA, momentum 0}. A run counts as collapsed
when its kNN accuracy is at most twice chance (20 % on ten classes); the embedding std and
RankMe per epoch show how it got there."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..config import Config
from ..train.logging import read_metrics
from ..train.runs import load_run
from .report import claim, col
from .runner import accuracy_row
from .spec import Study

VARIANTS = ("BYOL", "no predictor", "momentum 0", "no predictor, momentum 0")
COLLAPSE_FACTOR = 2.0  # collapsed: kNN accuracy <= this x chance


def variant_config(base: Config, variant: str) -> Config:
    cfg = copy.deepcopy(base)
    if "no predictor" in variant:
        cfg.method.predictor = False
    if "momentum 0" in variant:
        cfg.method.momentum = cfg.method.momentum_end = 0.0
    cfg.train.eval_every = 1  # the collapse monitors every epoch
    return cfg


def evaluate(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    chance = 100.0 / load_run(run_dir).meta.num_classes
    evals = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "eval"]
    row = accuracy_row(run_dir, summary)
    return {
        **row,
        "chance": chance,
        "outcome": "collapsed" if row["knn_acc"] <= COLLAPSE_FACTOR * chance else "no collapse",
        "curve": [{k: r[k] for k in ("epoch", "embedding_std", "rankme", "knn_acc")} for r in evals],
    }


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """'X collapses' held when X's runs collapsed and BYOL's did not; inconclusive when BYOL
    collapsed too or the seeds disagree."""
    byol = by.get("BYOL")
    if byol is None:
        return []
    out = []
    for variant, text in (("no predictor", "without the predictor BYOL collapses"), ("momentum 0", "with the target an exact copy (momentum 0) BYOL collapses"), ("no predictor, momentum 0", "without predictor and EMA BYOL collapses")):
        if variant not in by:
            continue
        r = by[variant]
        evidence = f"kNN {r['knn_acc']:.1f} % vs BYOL {byol['knn_acc']:.1f} % (chance {r['chance']:.0f} %); RankMe {r['rankme']:.2f} vs {byol['rankme']:.2f}; embedding std {r['embedding_std']:.4f} vs {byol['embedding_std']:.4f}"
        if byol["outcome"] != "no collapse" or r["outcome"] not in ("collapsed", "no collapse"):
            outcome = "inconclusive"
        else:
            outcome = "held" if r["outcome"] == "collapsed" else "did not hold"
        out.append(claim(text, evidence, outcome))
    return out


def plot(by: dict[str, dict[str, Any]], path: Path) -> Path:
    """Embedding std, RankMe and kNN accuracy per epoch, one line per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 3, figsize=(14, 4))
    for r in by.values():
        epochs = [c["epoch"] for c in r.get("curve", [])]
        for ax, key in zip(axes, ("embedding_std", "rankme", "knn_acc")):
            ax.plot(epochs, [c[key] for c in r["curve"]], marker="o", label=r["variant"])
    chance = next(iter(by.values())).get("chance", 10.0)
    axes[2].axhline(COLLAPSE_FACTOR * chance, color="grey", linestyle="--", label=f"collapsed below ({COLLAPSE_FACTOR:.0f}x chance)")
    axes[0].set(xlabel="epoch", ylabel="std of normalised embeddings", title="embedding std (0: one point)", yscale="log")
    axes[1].set(xlabel="epoch", ylabel="RankMe", title="effective rank (RankMe)")
    axes[2].set(xlabel="epoch", ylabel="kNN accuracy (%)", title="kNN accuracy")
    for ax in axes:
        ax.grid(alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


STUDY = Study(
    name="byol-collapse",
    title="What keeps BYOL from collapsing",
    question="without the predictor, or with the target an exact copy of the online network (momentum 0), BYOL collapses to a constant representation (Grill et al. 2020, Table 5: 0.2 % and 0.3 % top-1); SimSiam (Chen & He 2021) found stop-gradient plus the predictor enough. A run counts as collapsed when its kNN accuracy is at most twice chance.",
    method="byol",
    preset="configs/byol_mnist.yaml",
    gpu_preset="configs/byol_folder_gpu.yaml",
    variants=lambda base: VARIANTS,
    configure=variant_config,
    evaluate=evaluate,
    columns=(col("kNN %", "knn_acc"), col("linear %", "linear_acc"), col("embedding std", "embedding_std", fmt=".4f"), col("RankMe", "rankme", fmt=".2f"), col("outcome", "outcome"), col("train s", "train_seconds", fmt=".0f")),
    judge=judge_claims,
    plot=plot,
    plot_name="byol_collapse.png",
    epochs=10,
)
