"""What keeps BYOL from collapsing (Grill et al. 2020, BYOL, Table 5): without the predictor, or with
the target an exact copy of the online network (EMA momentum 0), BYOL collapses to a constant
representation (0.2 % and 0.3 % top-1 on ImageNet). SimSiam (Chen & He 2021) later found that
stop-gradient plus the predictor suffice, i.e. momentum 0 need not collapse.

Four runs of one BYOL preset: {predictor, none} x {EMA, momentum 0}. Collapse is judged on the
representation and on accuracy together: a variant collapsed when RankMe or the embedding std
fell to under half of full BYOL's (the rule on the paired log ratio, margin log 2) *and* its
accuracy does not beat the random-init floor; it did not collapse when it beats the floor and
neither measure fell so far. RankMe, embedding std and kNN per epoch show how it got there."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

from ..config import Config
from ..train.logging import read_metrics
from .floors import RANDOM_INIT
from .report import claim, col, learned
from .runner import accuracy_row
from .spec import Study
from .stats import Difference, paired, superiority

VARIANTS = ("BYOL", "no predictor", "momentum 0", "no predictor, momentum 0")
FACTOR = 2.0  # a measure "fell" when full BYOL's is more than this many times the variant's


def variant_config(base: Config, variant: str) -> Config:
    cfg = copy.deepcopy(base)
    if "no predictor" in variant:
        cfg.method.predictor = False
    if "momentum 0" in variant:
        cfg.method.momentum = cfg.method.momentum_end = 0.0
    cfg.train.eval_every = 1  # the collapse monitors every epoch
    return cfg


def evaluate(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    evals = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "eval"]
    return {**accuracy_row(run_dir, summary), "curve": [{k: r[k] for k in ("epoch", "embedding_std", "rankme", "knn_acc")} for r in evals]}


def log_ratio(byol: dict[str, Any], variant: dict[str, Any], key: str) -> Difference:
    """log(BYOL's measure / the variant's), paired by seed."""
    return paired({s: math.log(r[key]) for s, r in byol["per_seed"].items()}, {s: math.log(r[key]) for s, r in variant["per_seed"].items()})


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """'X collapses' held when a measure fell by FACTOR (by the rule) and X is not above the
    random-init floor; did not hold when X beats the floor and no measure fell; inconclusive
    otherwise, and whenever full BYOL itself does not beat the floor."""
    byol = by.get("BYOL")
    if byol is None:
        return []
    out = []
    for variant, text in (("no predictor", "without the predictor BYOL collapses"), ("momentum 0", "with the target an exact copy (momentum 0) BYOL collapses"), ("no predictor, momentum 0", "without predictor and EMA BYOL collapses")):
        if variant not in by:
            continue
        r = by[variant]
        ratios = {key: log_ratio(byol, r, key) for key in ("rankme", "embedding_std")}
        fell = [key for key, d in ratios.items() if superiority(d, math.log(FACTOR)) == "held"]
        above = learned(by, variant)
        if not learned(by, "BYOL"):
            outcome = "inconclusive"
        elif fell and not above:
            outcome = "held"
        elif above and not fell:
            outcome = "did not hold"
        else:
            outcome = "inconclusive"
        measures = "; ".join(f"{key} {r[key]:.4g} vs {byol[key]:.4g} (BYOL / variant x{math.exp(d.mean):.2f}, log {d.text()})" for key, d in ratios.items())
        floor = f"random-init floor {by[RANDOM_INIT]['knn_acc']:.1f} %" if RANDOM_INIT in by else "no floor measured"
        evidence = f"kNN {r['knn_acc']:.1f} % vs BYOL {byol['knn_acc']:.1f} % ({floor}: {'above' if above else 'not above'} it{'' if learned(by, 'BYOL') else '; BYOL itself is not above it either'}); {measures}"
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
    question="without the predictor, or with the target an exact copy of the online network (momentum 0), BYOL collapses to a constant representation (Grill et al. 2020, Table 5: 0.2 % and 0.3 % top-1); SimSiam (Chen & He 2021) found stop-gradient plus the predictor enough. A variant collapsed when RankMe or the embedding std fell to under half of full BYOL's (paired log ratio over seeds, margin log 2) and its accuracy does not beat the random-init floor; it did not collapse when it beats the floor and neither fell.",
    method="byol",
    preset="configs/byol_mnist.yaml",
    gpu_preset="configs/byol_folder_gpu.yaml",
    variants=lambda base: VARIANTS,
    configure=variant_config,
    evaluate=evaluate,
    columns=(col("kNN %", "knn_acc"), col("linear %", "linear_acc"), col("embedding std", "embedding_std", fmt=".4f"), col("RankMe", "rankme", fmt=".2f"), col("train s", "train_seconds", fmt=".0f")),
    judge=judge_claims,
    plot=plot,
    plot_name="byol_collapse.png",
    epochs=10,
)
