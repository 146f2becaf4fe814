"""Why DINO does not collapse (Caron et al. 2021, the collapse ablation): centring alone drives the teacher
towards the uniform distribution, sharpening alone towards one dominant dimension; together
they balance. Runs DINO four ways on one preset and reports entropy, KL and accuracy.

A run's teacher is named by its last-epoch entropies (:func:`collapse_kind`); a claim holds when
every seed (at least 3) shows the named outcome *and* the accuracy agrees with it: a collapsed
variant must not beat the random-init floor, the non-collapsed one must (``report.learned``)."""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import yaml

from ..config import Config
from ..train.logging import read_metrics
from .report import claim, col, learned
from .runner import speed
from .spec import Study
from .stats import MIN_SEEDS

# name -> (centering, sharpen): without sharpening the teacher uses the student's temperature.
SETTINGS: dict[str, tuple[str, bool]] = {
    "centring + sharpening": ("center", True),
    "centring only": ("center", False),
    "sharpening only": ("none", True),
    "neither": ("none", False),
}
# setting -> the outcome the paper reports for it
EXPECTED = {"centring + sharpening": "no collapse", "centring only": "uniform collapse", "sharpening only": "one dimension dominates"}


def setting_config(base: Config, name: str) -> Config:
    centering, sharpen = SETTINGS[name]
    cfg = copy.deepcopy(base)
    cfg.method.centering = centering
    # BatchNorm in the head centres each batch itself and KoLeo spreads the features apart: either would hide what is varied.
    cfg.method.use_bn_in_head = False
    cfg.method.koleo_weight = 0.0
    if not sharpen:
        cfg.method.teacher_temp = cfg.method.warmup_teacher_temp = cfg.method.student_temp
    return cfg


def collapse_kind(entropy: float, batch_entropy: float, out_dim: int) -> str:
    """Name the failure from the teacher's last-epoch entropies (nats; log K is uniform)."""
    log_k = math.log(out_dim)
    if entropy > 0.9 * log_k:
        return "uniform collapse"
    if batch_entropy < 0.25 * log_k:
        return "one dimension dominates"
    return "no collapse"


def evaluate(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """The teacher's last-epoch entropies and KL, kNN, RankMe, the outcome and the curves."""
    out_dim = int(yaml.safe_load((run_dir / "config.yaml").read_text())["method"]["out_dim"])
    epochs = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]
    last = epochs[-1]
    return {
        "teacher_entropy": last["teacher_entropy"],
        "teacher_batch_entropy": last["teacher_batch_entropy"],
        "kl": last["kl"],
        "knn_acc": summary.get("knn_acc", float("nan")),
        "linear_acc": summary.get("linear_acc", float("nan")),
        "rankme": summary["rankme"],
        "outcome": collapse_kind(last["teacher_entropy"], last["teacher_batch_entropy"], out_dim),
        "out_dim": out_dim,
        **speed(run_dir),
        "curve": [{k: r[k] for k in ("epoch", "teacher_entropy", "teacher_batch_entropy", "kl")} for r in epochs],
    }


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """Each setting's outcome on every seed against the paper's, checked against the floor:
    held when all seeds show it and the accuracy agrees (collapsed: not above the random-init
    floor; no collapse: above it); did not hold when no seed shows it and the accuracy disagrees;
    otherwise, or with fewer than 3 seeds, inconclusive."""
    out = []
    for name, expected in EXPECTED.items():
        if name not in by:
            continue
        r = by[name]
        kinds = [run["outcome"] for run in r["per_seed"].values()]
        above = learned(by, name)
        agrees = above if expected == "no collapse" else not above
        if len(kinds) < MIN_SEEDS:
            outcome = "inconclusive"
        elif all(k == expected for k in kinds) and agrees:
            outcome = "held"
        elif expected not in kinds and not agrees:
            outcome = "did not hold"
        else:
            outcome = "inconclusive"
        seen = ", ".join(f"{kinds.count(k)}/{len(kinds)} {k}" for k in dict.fromkeys(kinds))
        accuracy = f"kNN {r['knn_acc']:.1f} / linear {r['linear_acc']:.1f} %, {'above' if above else 'not above'} the random-init floor"
        out.append(claim(f"{name}: {expected}", f"{seen} (teacher entropy {r['teacher_entropy']:.2f} of {math.log(r['out_dim']):.2f} nats, batch {r['teacher_batch_entropy']:.2f}, KL {r['kl']:.3f}); {accuracy}", outcome))
    return out


def plot_curves(by: dict[str, dict[str, Any]], path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_h, ax_kl) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in by.values():
        epochs = [c["epoch"] for c in r["curve"]]
        ax_h.plot(epochs, [c["teacher_entropy"] for c in r["curve"]], marker="o", label=r["variant"])
        ax_kl.plot(epochs, [c["kl"] for c in r["curve"]], marker="o", label=r["variant"])
    out_dim = next(iter(by.values()))["out_dim"]
    ax_h.axhline(math.log(out_dim), color="grey", linestyle="--", label="uniform (log K)")
    ax_h.set(xlabel="epoch", ylabel="teacher entropy (nats)", title="teacher entropy")
    ax_kl.set(xlabel="epoch", ylabel="KL (nats)", title="KL(teacher || student)", yscale="log")
    ax_h.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


STUDY = Study(
    name="dino-collapse",
    title="Why DINO does not collapse",
    question="Caron et al. 2021 (DINO, the collapse ablation): centring alone collapses the teacher to the uniform distribution, sharpening alone to one dominant dimension; together they do not collapse. A teacher is named uniform when its mean entropy exceeds 0.9 log K, one-dimensional when the entropy of its batch-mean distribution falls under 0.25 log K; the accuracy must agree (a collapsed variant not above the random-init floor, the full one above it).",
    method="dino",
    preset="configs/dino_mnist.yaml",
    gpu_preset="configs/dino_folder_gpu.yaml",
    variants=lambda base: tuple(SETTINGS),
    configure=setting_config,
    evaluate=evaluate,
    columns=(
        col("entropy", "teacher_entropy", fmt=".2f"),
        col("batch entropy", "teacher_batch_entropy", fmt=".2f"),
        col("KL(teacher, student)", "kl", fmt=".3f"),
        col("kNN %", "knn_acc"),
        col("linear %", "linear_acc"),
        col("RankMe", "rankme"),
        col("outcome", "outcome"),
    ),
    judge=judge_claims,
    plot=plot_curves,
    plot_name="collapse.png",
    epochs=6,
)
