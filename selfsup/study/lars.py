"""LARS at large batch (You et al. 2017; SimCLR, Chen et al. 2020, which trains with LARS because
"training with large batch size may be unstable when using standard SGD/momentum with linear
learning rate scaling"): SimCLR at one large batch with SGD + momentum and with LARS, both at the
linearly scaled learning rate of the preset (0.3 x batch / 256), the same warm-up, no gradient
clipping. The loss is logged every step; a spike is a step whose loss rises more than
0.1 x the first step's loss above the lowest loss so far (SPIKE_RISE), and NaN/Inf stops a run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..config import Config
from ..train.logging import read_metrics
from .report import claim, col, gain, verdict
from .runner import accuracy_row
from .spec import Study

VARIANTS = ("SGD, linear LR scaling", "LARS")
SPIKE_RISE = 0.1


def variant_config(base: Config, variant: str) -> Config:
    cfg = copy.deepcopy(base)
    cfg.optim.name = "sgd" if variant.startswith("SGD") else "lars"
    cfg.optim.clip_grad = None  # clipping would hide the instability under test
    cfg.train.log_every = 1
    return cfg


def spikes(losses: list[float], rise: float = SPIKE_RISE) -> list[int]:
    """Indices where a loss spike starts: the loss exceeds the lowest loss before it by more than
    ``rise`` x the first loss (a spike lasting several steps counts once)."""
    out, best, inside = [], float("inf"), False
    for i, loss in enumerate(losses):
        above = loss - best > rise * losses[0]
        if above and not inside:
            out.append(i)
        inside = above
        best = min(best, loss)
    return out


def loss_curve(run_dir: Path) -> list[tuple[int, float]]:
    return [(r["step"], r["loss"]) for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "train"]


def evaluate(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    return {**accuracy_row(run_dir, summary), **stability(run_dir)}


def stability(run_dir: Path) -> dict[str, Any]:
    """Loss spikes, the final loss and the loss curve (also of a run that diverged)."""
    curve = loss_curve(run_dir)
    losses = [loss for _, loss in curve]
    at = spikes(losses)
    return {"spikes": len(at), "spike_steps": [curve[i][0] for i in at], "final_loss": losses[-1] if losses else float("nan"), "loss_curve": curve}


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """held when SGD was unstable (a NaN or a spike in any seed) and LARS was not; did not hold
    when LARS was unstable; when both were stable, by accuracy (LARS must not be worse)."""
    if set(VARIANTS) - by.keys():
        return []
    sgd, lars = by["SGD, linear LR scaling"], by["LARS"]

    def unstable(r: dict[str, Any]) -> bool:
        return r["diverged"] > 0 or r.get("spikes", 0) > 0

    def state(r: dict[str, Any]) -> str:
        parts = [f"{r['diverged']}/{len(r['seeds'])} runs NaN"] if r["diverged"] else []
        parts += [f"{r['spikes']:.1f} loss spikes", f"kNN {r['knn_acc']:.1f} %, linear {r['linear_acc']:.1f} %"] if r["n"] else []
        return ", ".join(parts)

    evidence = f"SGD: {state(sgd)}; LARS: {state(lars)}"
    if unstable(lars):
        outcome = "did not hold"
    elif unstable(sgd):
        outcome = "held"
    else:
        d = gain(lars, sgd)
        outcome = verdict(d)
        evidence += f" (both stable: judged by accuracy, LARS - SGD {d.text()})"
    return [claim("LARS keeps large-batch training stable (SGD with linear LR scaling spikes, diverges or trains worse)", evidence, outcome)]


def plot(by: dict[str, dict[str, Any]], path: Path) -> Path:
    """Loss per step per variant with spikes (x) and NaN stops (dotted line) marked, and final accuracy."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    for colour, r in zip(("tab:red", "tab:blue", "tab:green"), by.values()):
        curve = r.get("loss_curve", [])
        if curve:
            steps, losses = zip(*curve)
            ax_l.plot(steps, losses, color=colour, label=r["variant"])
            marks = [(s, loss) for s, loss in curve if s in set(r.get("spike_steps", []))]
            if marks:
                ax_l.scatter(*zip(*marks), color=colour, marker="x", s=60, zorder=3, label=f"{r['variant']}: spike")
        if r["diverged"] and "diverged_step" in r:
            ax_l.axvline(r["diverged_step"], color=colour, linestyle=":", label=f"{r['variant']}: NaN at step {r['diverged_step']:.0f}")
    ax_l.set(xlabel="step", ylabel="NT-Xent loss", title="training loss (every step)")
    ax_l.grid(alpha=0.3)
    ax_l.legend(fontsize=8)
    names = list(by)
    for i, key in enumerate(("knn_acc", "linear_acc")):
        values = [by[n].get(key, 0.0) if by[n]["n"] else 0.0 for n in names]
        ax_a.bar([j + (i - 0.5) * 0.35 for j in range(len(names))], values, 0.35, label="kNN" if key == "knn_acc" else "linear")
    ax_a.set_xticks(range(len(names)), names, fontsize=8)
    ax_a.set(ylabel="accuracy (%)", title="final accuracy (0: diverged)")
    ax_a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


STUDY = Study(
    name="lars",
    title="LARS at large batch",
    question="SimCLR trains with LARS because \"training with large batch size may be unstable when using standard SGD/momentum with linear learning rate scaling\" (Chen et al. 2020; LARS: You et al. 2017). Both optimizers run at the linearly scaled rate 0.3 x batch / 256 with the same warm-up and no gradient clipping; a spike is a step whose loss rises more than 0.1 x the first loss above the lowest loss so far; NaN stops a run.",
    method="simclr",
    preset="configs/claims_lars_mnist.yaml",
    gpu_preset="configs/claims_lars_cifar10_gpu.yaml",
    variants=lambda base: VARIANTS,
    configure=variant_config,
    evaluate=evaluate,
    diverged=stability,
    columns=(col("kNN %", "knn_acc"), col("linear %", "linear_acc"), col("loss spikes", "spikes", fmt=".1f"), col("final loss", "final_loss", fmt=".3f"), col("RankMe", "rankme", fmt=".2f"), col("train s", "train_seconds", fmt=".0f")),
    judge=judge_claims,
    plot=plot,
    plot_name="lars.png",
)
