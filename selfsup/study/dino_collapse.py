"""Why DINO does not collapse (Caron et al. 2021, the collapse ablation): centring alone drives the teacher
towards the uniform distribution, sharpening alone towards one dominant dimension; together
they balance. Runs DINO four ways on one preset and reports entropy, KL and kNN accuracy."""

from __future__ import annotations

import copy
import json
import math
from pathlib import Path
from typing import Any

from ..config import Config
from ..train.logging import read_metrics
from ..train.trainer import train

# name -> (centering, sharpen): without sharpening the teacher uses the student's temperature.
SETTINGS: dict[str, tuple[str, bool]] = {
    "centring + sharpening": ("center", True),
    "centring only": ("center", False),
    "sharpening only": ("none", True),
    "neither": ("none", False),
}


def setting_config(base: Config, name: str, out_dir: Path) -> Config:
    centering, sharpen = SETTINGS[name]
    cfg = copy.deepcopy(base)
    cfg.method.centering = centering
    cfg.method.use_bn_in_head = False  # BatchNorm in the head centres each batch itself and would hide what is varied
    if not sharpen:
        cfg.method.teacher_temp = cfg.method.warmup_teacher_temp = cfg.method.student_temp
    cfg.train.out_dir = str(out_dir)
    cfg.train.run_name = name.replace(" + ", "_and_").replace(" ", "_")
    return cfg


def collapse_kind(entropy: float, batch_entropy: float, out_dim: int) -> str:
    """Name the failure from the teacher's last-epoch entropies (nats; log K is uniform)."""
    log_k = math.log(out_dim)
    if entropy > 0.9 * log_k:
        return "uniform collapse"
    if batch_entropy < 0.25 * log_k:
        return "one dimension dominates"
    return "no collapse"


def run_study(base: Config, out_dir: Path) -> list[dict[str, Any]]:
    """Train the four settings, then write ``results.json``, ``table.md`` and ``collapse.png``."""
    if base.method.name != "dino":
        raise ValueError(f"the dino-collapse study needs a DINO preset; got method '{base.method.name}'")
    out_dir = Path(out_dir)
    rows = []
    for name in SETTINGS:
        cfg = setting_config(base, name, out_dir)
        summary = train(cfg)
        epochs = [r for r in read_metrics(Path(summary["run_dir"]) / "metrics.jsonl") if r["kind"] == "epoch"]
        last = epochs[-1]
        rows.append(
            {
                "setting": name,
                "teacher_entropy": last["teacher_entropy"],
                "teacher_batch_entropy": last["teacher_batch_entropy"],
                "kl": last["kl"],
                "knn_acc": summary.get("knn_acc", float("nan")),
                "rankme": summary["rankme"],
                "outcome": collapse_kind(last["teacher_entropy"], last["teacher_batch_entropy"], cfg.method.out_dim),
                "curve": [{k: r[k] for k in ("epoch", "teacher_entropy", "teacher_batch_entropy", "kl")} for r in epochs],
            }
        )
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2))
    (out_dir / "table.md").write_text(results_table(rows, base.method.out_dim))
    plot_curves(rows, base.method.out_dim, out_dir / "collapse.png")
    return rows


def results_table(rows: list[dict[str, Any]], out_dim: int) -> str:
    lines = [
        f"Teacher entropy per sample and of the batch mean (nats; uniform = log {out_dim} = {math.log(out_dim):.2f}), last epoch.",
        "",
        "| setting | entropy | batch entropy | KL(teacher, student) | kNN % | RankMe | outcome |",
        "|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(f"| {r['setting']} | {r['teacher_entropy']:.2f} | {r['teacher_batch_entropy']:.2f} | {r['kl']:.3f} | {r['knn_acc']:.1f} | {r['rankme']:.1f} | {r['outcome']} |")
    return "\n".join(lines) + "\n"


def plot_curves(rows: list[dict[str, Any]], out_dim: int, path: Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, (ax_h, ax_kl) = plt.subplots(1, 2, figsize=(10, 3.8))
    for r in rows:
        epochs = [c["epoch"] for c in r["curve"]]
        ax_h.plot(epochs, [c["teacher_entropy"] for c in r["curve"]], marker="o", label=r["setting"])
        ax_kl.plot(epochs, [c["kl"] for c in r["curve"]], marker="o", label=r["setting"])
    ax_h.axhline(math.log(out_dim), color="grey", linestyle="--", label="uniform (log K)")
    ax_h.set(xlabel="epoch", ylabel="teacher entropy (nats)", title="teacher entropy")
    ax_kl.set(xlabel="epoch", ylabel="KL (nats)", title="KL(teacher || student)", yscale="log")
    ax_h.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
