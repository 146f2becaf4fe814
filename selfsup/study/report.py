"""Tables, verdicts and plots shared by the studies whose rows hold kNN / linear accuracy,
occlusion curves, speed and (on data with masks) dense mIoU."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..config import Config

MARGIN = 1.0  # accuracy points below which a single-seed difference is called inconclusive


def occluded(row: dict[str, Any], probe: str = "linear", where: str = "object", fraction: str = "0.5") -> float:
    """Accuracy with ``fraction`` of the patches blanked (object patches when the data has masks)."""
    curves = row["robustness"]
    return curves.get(f"occlusion_{where}", curves["occlusion_random"])[fraction][probe]


def setting_line(base: Config) -> str:
    patch = f" (patch {base.model.patch_size})" if base.model.patch_size else ""
    return f"{base.data.name} {base.data.image_size} px, {base.model.backbone}{patch}, {base.train.epochs} epochs, batch {base.data.batch_size}, seed {base.train.seed}."


def results_table(rows: list[dict[str, Any]], base: Config) -> str:
    dense = all("dense_miou" in r for r in rows)
    objects = all("occlusion_object" in r["robustness"] for r in rows)
    head = ["variant", "kNN %", "linear %"] + (["dense mIoU %"] if dense else [])
    head += (["occl. 50 % object (lin / kNN)"] if objects else []) + ["occl. 50 % random (lin / kNN)", "s / epoch", "img/s"]
    lines = [setting_line(base) + " Occlusion: accuracy with 50 % of the patches blanked.", "", "| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        cells = [r["variant"], f"{r['knn_acc']:.1f}", f"{r['linear_acc']:.1f}"] + ([f"{r['dense_miou']:.1f}"] if dense else [])
        cells += [f"{occluded(r):.1f} / {occluded(r, 'knn'):.1f}"] if objects else []
        cells += [f"{occluded(r, where='random'):.1f} / {occluded(r, 'knn', 'random'):.1f}", f"{r['seconds_per_epoch']:.1f}", f"{r['images_per_s']:.0f}"]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"


def verdict(gain: float) -> str:
    """held / did not hold / inconclusive for a gain in accuracy points."""
    if gain >= MARGIN:
        return "held"
    if gain <= -MARGIN:
        return "did not hold"
    return "inconclusive"


def claims_table(claims: list[dict[str, str]]) -> str:
    lines = [f"Single-seed differences under {MARGIN:.0f} point are called inconclusive.", "", "| claim | evidence | verdict |", "|---|---|---|"]
    lines += [f"| {c['claim']} | {c['evidence']} | {c['verdict']} |" for c in claims]
    return "\n".join(lines) + "\n"


def plot_study(rows: list[dict[str, Any]], path: Path) -> Path:
    """Linear accuracy against the blanked fraction of patches per variant (random patches; and
    object patches first, when the data has masks), then kNN, linear (and dense mIoU) per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    keys = ["occlusion_random"] + (["occlusion_object"] if all("occlusion_object" in r["robustness"] for r in rows) else [])
    fig, axes = plt.subplots(1, len(keys) + 1, figsize=(6 * len(keys) + 7, 4.5), gridspec_kw={"width_ratios": [1] * len(keys) + [1.4]})
    for key, ax in zip(keys, axes):
        for r in rows:
            levels = list(r["robustness"][key])
            ax.plot([100 * float(x) for x in levels], [r["robustness"][key][x]["linear"] for x in levels], marker="o", label=r["variant"])
        ax.set(xlabel=f"patches blanked (%), {'at random' if key.endswith('random') else 'object patches first'}", ylabel="linear accuracy (%)", title="occlusion robustness")
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7)
    bars = axes[-1]
    metrics = [(k, label) for k, label in (("knn_acc", "kNN"), ("linear_acc", "linear"), ("dense_miou", "dense mIoU")) if all(k in r for r in rows)]
    x, width = np.arange(len(rows)), 0.8 / len(metrics)
    for i, (k, label) in enumerate(metrics):
        bars.bar(x + (i - (len(metrics) - 1) / 2) * width, [r[k] for r in rows], width, label=label)
    bars.set_xticks(x, [r["variant"] for r in rows], rotation=25, ha="right", fontsize=8)
    bars.set(ylabel="%", title="accuracy" + (" and dense mIoU" if len(metrics) == 3 else ""))
    bars.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


def write_study(out_dir: Path, rows: list[dict[str, Any]], base: Config, claims: list[dict[str, str]], plot_name: str) -> None:
    """A study's files: ``results.json``, ``table.md``, ``claims.md`` and the plot ``plot_name``."""
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2))
    (out_dir / "table.md").write_text(results_table(rows, base))
    (out_dir / "claims.md").write_text(claims_table(claims))
    plot_study(rows, out_dir / plot_name)
