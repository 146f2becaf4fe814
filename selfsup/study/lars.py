"""LARS at large batch (You et al. 2017; SimCLR, Chen et al. 2020, which trains with LARS because
"training with large batch size may be unstable when using standard SGD/momentum with linear
learning rate scaling"): SimCLR at one large batch with SGD + momentum and with LARS over a sweep
of learning rates from the linearly scaled rate of the preset (0.3 x batch / 256) up by factors
of 4, the same warm-up, no gradient clipping. The claim is about stability, so it is judged on
stability: the loss is logged every step; a spike is a step whose loss rises more than 0.1 x the
first step's loss above the lowest loss so far (SPIKE_RISE), and NaN/Inf stops a run."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..config import Config
from ..train.logging import read_metrics
from .report import claim, col, learned
from .runner import accuracy_row
from .spec import Study
from .stats import MIN_SEEDS

OPTIMIZERS = {"SGD": "sgd", "LARS": "lars"}
LR_FACTORS = (1, 4, 16)  # x the linearly scaled rate: the sweep goes up until SGD fails
SPIKE_RISE = 0.1


def variant_name(optimizer: str, lr: float) -> str:
    return f"{optimizer}, lr {lr:g}"


def variants(base: Config) -> tuple[str, ...]:
    return tuple(variant_name(o, base.optim.lr * f) for f in LR_FACTORS for o in OPTIMIZERS)


def variant_config(base: Config, variant: str) -> Config:
    optimizer, lr = variant.split(", lr ")
    cfg = copy.deepcopy(base)
    cfg.optim.name, cfg.optim.lr = OPTIMIZERS[optimizer], float(lr)
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


def unstable_runs(r: dict[str, Any]) -> int:
    """Runs of a variant whose loss became NaN or spiked."""
    return r["diverged"] + sum(run.get("spikes", 0) > 0 for run in r["per_seed"].values())


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """held when at some rate of the sweep SGD failed in every seed (NaN or a spike) while LARS
    was stable in every seed and beat the random-init floor; did not hold when at every rate
    where SGD failed in every seed LARS failed too; inconclusive otherwise (SGD stable over the
    whole sweep, seeds that disagree, fewer than 3 seeds)."""
    rates = sorted({name.split(", lr ")[1] for name in by if ", lr " in name}, key=float)
    pairs = [(lr, by[variant_name("SGD", float(lr))], by[variant_name("LARS", float(lr))]) for lr in rates if all(variant_name(o, float(lr)) in by for o in OPTIMIZERS)]
    if not pairs:
        return []

    def state(r: dict[str, Any]) -> str:
        seeds = len(r["seeds"])
        text = f"{unstable_runs(r)}/{seeds} unstable" + (f" ({r['diverged']} NaN)" if r["diverged"] else "")
        return text + (f", kNN {r['knn_acc']:.1f} %" if r["n"] else "")

    seeds = min(len(r["seeds"]) for _, sgd, lars in pairs for r in (sgd, lars))
    failed = [(lr, sgd, lars) for lr, sgd, lars in pairs if unstable_runs(sgd) == len(sgd["seeds"])]
    rescued = [lr for lr, _, lars in failed if unstable_runs(lars) == 0 and learned(by, variant_name("LARS", float(lr)))]
    if seeds < MIN_SEEDS or not failed:
        outcome = "inconclusive"
    elif rescued:
        outcome = "held"
    elif all(unstable_runs(lars) == len(lars["seeds"]) for _, _, lars in failed):
        outcome = "did not hold"
    else:
        outcome = "inconclusive"
    evidence = "; ".join(f"lr {lr}: SGD {state(sgd)}, LARS {state(lars)}" for lr, sgd, lars in pairs)
    if rescued:
        evidence += f" (LARS stable and above the random-init floor where SGD failed: lr {', '.join(rescued)})"
    return [claim("SGD + momentum with linear LR scaling is unstable at large batch where LARS trains", evidence, outcome)]


def plot(by: dict[str, dict[str, Any]], path: Path) -> Path:
    """Loss per step per variant (colour: the rate; dashed: SGD) with spikes (x) and NaN stops
    (dotted line) marked, and final accuracy with the unstable runs of each variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_l, ax_a) = plt.subplots(1, 2, figsize=(12, 4.2), gridspec_kw={"width_ratios": [1.6, 1]})
    colours = dict(zip(sorted({n.split(", lr ")[1] for n in by}, key=float), ("tab:green", "tab:blue", "tab:red", "tab:purple", "tab:brown")))
    for r in by.values():
        colour = colours[r["variant"].split(", lr ")[1]]
        curve = r.get("loss_curve", [])
        if curve:
            steps, losses = zip(*curve)
            ax_l.plot(steps, losses, color=colour, linestyle="-" if r["variant"].startswith("LARS") else "--", label=r["variant"])
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
    ax_a.set_xticks(range(len(names)), [f"{n}\n{unstable_runs(by[n])}/{len(by[n]['seeds'])} unstable" for n in names], fontsize=7, rotation=30, ha="right")
    ax_a.set(ylabel="accuracy (%)", title="final accuracy (0: every seed diverged)")
    ax_a.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


STUDY = Study(
    name="lars",
    title="LARS at large batch",
    question="SimCLR trains with LARS because \"training with large batch size may be unstable when using standard SGD/momentum with linear learning rate scaling\" (Chen et al. 2020; LARS: You et al. 2017). Both optimizers run over a sweep of learning rates, 1, 4 and 16 x the linearly scaled rate 0.3 x batch / 256, with the same warm-up and no gradient clipping; a run is unstable when its loss becomes NaN (the run stops) or spikes (a step whose loss rises more than 0.1 x the first loss above the lowest loss so far). Held when at some rate SGD is unstable in every seed while LARS is stable in every seed and beats the random-init floor; did not hold when wherever SGD fails in every seed LARS fails too.",
    method="simclr",
    preset="configs/claims_lars_mnist.yaml",
    gpu_preset="configs/claims_lars_cifar10_gpu.yaml",
    variants=variants,
    configure=variant_config,
    evaluate=evaluate,
    diverged=stability,
    columns=(col("kNN %", "knn_acc"), col("linear %", "linear_acc"), col("loss spikes", "spikes", fmt=".1f"), col("final loss", "final_loss", fmt=".3f"), col("RankMe", "rankme", fmt=".2f"), col("train s", "train_seconds", fmt=".0f")),
    judge=judge_claims,
    plot=plot,
    plot_name="lars.png",
)
