"""A run's records: ``metrics.jsonl``, TensorBoard events and PNG plots, written by rank 0 only."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..core.distributed import is_main


class RunLogger:
    def __init__(self, run_dir: Path, tensorboard: bool = True, purge_step: int | None = None) -> None:
        """``purge_step``: on a resume, TensorBoard hides what the killed run logged from this step on."""
        self.run_dir = run_dir
        self.metrics_path = run_dir / "metrics.jsonl"
        self.writer = None
        if is_main() and tensorboard:
            from torch.utils.tensorboard import SummaryWriter

            self.writer = SummaryWriter(str(run_dir / "tensorboard"), purge_step=purge_step)

    def log(self, record: dict[str, Any]) -> None:
        """Append one record (it must hold ``step``) to metrics.jsonl and TensorBoard."""
        if not is_main():
            return
        with open(self.metrics_path, "a") as f:
            f.write(json.dumps(record) + "\n")
        if self.writer is not None:
            for key, value in record.items():
                if key not in ("step", "epoch", "kind") and isinstance(value, (int, float)):
                    self.writer.add_scalar(f"{record.get('kind', 'train')}/{key}", value, record["step"])

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()


def read_metrics(path: Path) -> list[dict[str, Any]]:
    if not path.is_file():
        return []
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def plot_run(run_dir: Path) -> list[Path]:
    """loss.png (training loss per step), knn.png (kNN / online-probe / zero-shot accuracy per
    epoch) and, for image-text runs, logit_scale.png (the learned temperature per step)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    records = read_metrics(run_dir / "metrics.jsonl")
    train = [r for r in records if r.get("kind") == "train"]
    evals = [r for r in records if r.get("kind") == "eval"]
    out = []
    if train:
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([r["step"] for r in train], [r["loss"] for r in train], lw=1)
        ax.set(xlabel="step", ylabel="loss", title=f"training loss: {run_dir.name}")
        ax.grid(alpha=0.3)
        fig.tight_layout()
        fig.savefig(run_dir / "loss.png", dpi=100)
        plt.close(fig)
        out.append(run_dir / "loss.png")
    if train and all("logit_scale" in r for r in train):
        fig, ax = plt.subplots(figsize=(6, 3.5))
        ax.plot([r["step"] for r in train], [r["logit_scale"] for r in train], lw=1)
        ax.axhline(100.0, color="grey", ls="--", lw=1, label="clamp (100)")
        ax.set(xlabel="step", ylabel="logit scale (1 / temperature)", title=f"logit scale: {run_dir.name}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(run_dir / "logit_scale.png", dpi=100)
        plt.close(fig)
        out.append(run_dir / "logit_scale.png")
    series = [(k, label) for k, label in (("knn_acc", "kNN (k=20)"), ("online_probe_acc", "online linear probe"), ("zeroshot_top1", "zero-shot top-1")) if evals and all(k in r for r in evals)]
    if series:  # unlabelled data (a caption CSV) has no accuracy to draw
        fig, ax = plt.subplots(figsize=(6, 3.5))
        epochs = [r["epoch"] for r in evals]
        for key, label in series:
            ax.plot(epochs, [r[key] for r in evals], marker="o", label=label)
        ax.set(xlabel="epoch", ylabel="test accuracy (%)", title=f"accuracy: {run_dir.name}")
        ax.grid(alpha=0.3)
        ax.legend()
        fig.tight_layout()
        fig.savefig(run_dir / "knn.png", dpi=100)
        plt.close(fig)
        out.append(run_dir / "knn.png")
    return out
