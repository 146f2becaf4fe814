"""The AttnDrop study: what each of the method's three parts buys, measured as runs of the same
method with one part switched off, beside DINO+iBOT and MAE on the same data, crops and budget.

Claims under test (each compares the full method with one ablation):
1. patch distillation gives better dense features: dense-probe mIoU, full vs no ``L_patch``;
2. attention-guided dropping makes training cheaper without losing accuracy: images/s and
   kNN / linear accuracy, full vs keep 1.0, and attention-guided vs random dropping;
3. reconstructing the dropped patches makes features robust to occlusion: accuracy with 50 %
   of the object's patches blanked, full vs no ``L_recon``.
"""

from __future__ import annotations

import copy
import dataclasses
import json
from pathlib import Path
from typing import Any

from ..config import Config, DINOConfig, DistillConfig, MAEConfig
from ..data import build_dataset
from ..eval.dense import dense_probe
from ..eval.robustness import robustness
from ..train.logging import read_metrics
from ..train.runs import load_run
from ..train.trainer import train

# variant -> changes to the AttnDrop preset's method section (DINO+iBOT and MAE: see variant_config)
ABLATIONS: dict[str, dict[str, Any]] = {
    "AttnDrop": {},
    "no patch loss": {"w_patch": 0.0},
    "no dropping (keep 1.0)": {"keep_ratio": 1.0},
    "no reconstruction": {"w_recon": 0.0},
    "random dropping": {"drop_policy": "random"},
    "lowest-attention dropping": {"drop_policy": "low_attention"},
}
REFERENCES = ("DINO+iBOT", "MAE")
VARIANTS = (*ABLATIONS, *REFERENCES)
MARGIN = 1.0  # accuracy points below which a single-seed difference is called inconclusive


def variant_config(base: Config, variant: str, out_dir: Path) -> Config:
    """The AttnDrop preset ``base`` with one part changed, or the reference method on the same
    data, backbone, optimizer and budget (MAE takes the global crops only)."""
    cfg = copy.deepcopy(base)
    if variant in ABLATIONS:
        cfg.method = dataclasses.replace(cfg.method, **ABLATIONS[variant])
    elif variant == "DINO+iBOT":
        shared = {f.name: getattr(base.method, f.name) for f in dataclasses.fields(DistillConfig) if f.name != "name"}
        cfg.method = DINOConfig(**shared, ibot_weight=1.0)
    elif variant == "MAE":
        m = base.method
        cfg.method = MAEConfig(norm_pix_loss=m.norm_pix_loss, decoder_dim=m.decoder_dim, decoder_depth=m.decoder_depth, decoder_heads=m.decoder_heads)
        cfg.augment.n_local = 0
    else:
        raise ValueError(f"unknown variant '{variant}'; valid: {', '.join(VARIANTS)}")
    cfg.train.out_dir = str(out_dir)
    cfg.train.run_name = variant.split(" (")[0].replace(" ", "_").replace("+", "_")
    return cfg


def evaluate_variant(run_dir: Path, summary: dict[str, Any]) -> dict[str, Any]:
    """kNN / linear (from training), dense mIoU, occlusion and noise curves, speed."""
    run = load_run(run_dir)
    cfg, meta, encoder = run.cfg, run.meta, run.encoder()
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    grid = meta.image_size // encoder.patch_embed.patch_size[0]
    curves = robustness(encoder, train_set, test_set, meta.mean, meta.std, grid, cfg.eval.knn_k, cfg.eval.knn_temperature, cfg.eval.linear_epochs, cfg.train.seed)
    epochs = [r for r in read_metrics(run_dir / "metrics.jsonl") if r["kind"] == "epoch"]
    return {
        "knn_acc": summary["knn_acc"],
        "linear_acc": summary["linear_acc"],
        "dense_miou": dense_probe(encoder, train_set, test_set, meta.mean, meta.std)["miou"],
        "robustness": curves,
        "seconds_per_epoch": sum(r["seconds"] for r in epochs) / len(epochs),
        "images_per_s": sum(r["images_per_s"] for r in epochs) / len(epochs),
    }


def run_study(base: Config, out_dir: Path, variants: tuple[str, ...] = VARIANTS) -> list[dict[str, Any]]:
    """Train and evaluate each variant (a finished variant's ``result.json`` is reused), then
    write ``results.json``, ``table.md``, ``claims.md`` and ``attndrop.png``."""
    if base.method.name != "attndrop":
        raise ValueError(f"the attndrop study needs an AttnDrop preset; got method '{base.method.name}'")
    out_dir = Path(out_dir)
    rows = []
    for variant in variants:
        cfg = variant_config(base, variant, out_dir)
        run_dir = out_dir / cfg.train.run_name
        done = run_dir / "result.json"
        if done.is_file():
            row = json.loads(done.read_text())
        else:
            row = {"variant": variant, **evaluate_variant(run_dir, train(cfg))}
            done.write_text(json.dumps(row, indent=2))
        rows.append(row)
        print(f"[{len(rows)}/{len(variants)}] {variant}: kNN {row['knn_acc']:.1f} %, dense mIoU {row['dense_miou']:.1f} %", flush=True)
    (out_dir / "results.json").write_text(json.dumps(rows, indent=2))
    (out_dir / "table.md").write_text(results_table(rows, base))
    (out_dir / "claims.md").write_text(claims_table(judge_claims(rows)))
    plot_study(rows, out_dir / "attndrop.png")
    return rows


def occluded(row: dict[str, Any], probe: str = "linear", where: str = "object", fraction: str = "0.5") -> float:
    curves = row["robustness"]
    return curves.get(f"occlusion_{where}", curves["occlusion_random"])[fraction][probe]


def results_table(rows: list[dict[str, Any]], base: Config) -> str:
    lines = [
        f"{base.data.name} {base.data.image_size} px, {base.model.backbone} (patch {base.model.patch_size}), {base.train.epochs} epochs, "
        f"batch {base.data.batch_size}, seed {base.train.seed}. Occlusion: 50 % of the patches blanked (object patches first; random patches), linear / kNN.",
        "",
        "| variant | kNN % | linear % | dense mIoU % | occl. 50 % object (lin / kNN) | occl. 50 % random (lin / kNN) | s / epoch | img/s |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in rows:
        lines.append(
            f"| {r['variant']} | {r['knn_acc']:.1f} | {r['linear_acc']:.1f} | {r['dense_miou']:.1f} | "
            f"{occluded(r):.1f} / {occluded(r, 'knn'):.1f} | {occluded(r, where='random'):.1f} / {occluded(r, 'knn', 'random'):.1f} | "
            f"{r['seconds_per_epoch']:.1f} | {r['images_per_s']:.0f} |"
        )
    return "\n".join(lines) + "\n"


def _verdict(gain: float) -> str:
    if gain >= MARGIN:
        return "held"
    if gain <= -MARGIN:
        return "did not hold"
    return "inconclusive"


def judge_claims(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    """One line per claim the rows can test: the comparison, the numbers and the verdict."""
    by = {r["variant"]: r for r in rows}
    full = by.get("AttnDrop")
    if full is None:
        return []
    out = []
    if "no patch loss" in by:
        a, b = full["dense_miou"], by["no patch loss"]["dense_miou"]
        out.append({"claim": "patch distillation improves dense features", "evidence": f"dense mIoU {a:.1f} vs {b:.1f} without L_patch", "verdict": _verdict(a - b)})
    if "no dropping (keep 1.0)" in by:
        keep = by["no dropping (keep 1.0)"]
        speed = full["images_per_s"] / keep["images_per_s"]
        loss = max(keep["knn_acc"] - full["knn_acc"], keep["linear_acc"] - full["linear_acc"])
        verdict = "held" if speed > 1.0 and loss < MARGIN else "did not hold"
        out.append(
            {
                "claim": "dropping half the tokens trains faster at no accuracy cost",
                "evidence": f"{speed:.2f}x images/s; kNN {full['knn_acc']:.1f} vs {keep['knn_acc']:.1f}, linear {full['linear_acc']:.1f} vs {keep['linear_acc']:.1f} with every token",
                "verdict": verdict,
            }
        )
    if "random dropping" in by:
        rnd = by["random dropping"]
        gain = (full["knn_acc"] - rnd["knn_acc"] + full["linear_acc"] - rnd["linear_acc"]) / 2
        out.append(
            {
                "claim": "the teacher's attention picks better tokens than chance",
                "evidence": f"kNN {full['knn_acc']:.1f} vs {rnd['knn_acc']:.1f}, linear {full['linear_acc']:.1f} vs {rnd['linear_acc']:.1f} with random dropping",
                "verdict": _verdict(gain),
            }
        )
    if "no reconstruction" in by:
        a, b = occluded(full), occluded(by["no reconstruction"])
        out.append({"claim": "reconstruction makes features robust to occlusion", "evidence": f"linear accuracy with 50 % of object patches blanked {a:.1f} vs {b:.1f} without L_recon", "verdict": _verdict(a - b)})
    return out


def claims_table(claims: list[dict[str, str]]) -> str:
    lines = [f"Single-seed differences under {MARGIN:.0f} point are called inconclusive.", "", "| claim | evidence | verdict |", "|---|---|---|"]
    lines += [f"| {c['claim']} | {c['evidence']} | {c['verdict']} |" for c in claims]
    return "\n".join(lines) + "\n"


def plot_study(rows: list[dict[str, Any]], path: Path) -> Path:
    """Left: linear accuracy against the blanked fraction of object patches, per variant.
    Right: kNN, linear and dense mIoU per variant."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    fig, (curve, bars) = plt.subplots(1, 2, figsize=(13, 4.5), gridspec_kw={"width_ratios": [1, 1.4]})
    for r in rows:
        key = "occlusion_object" if "occlusion_object" in r["robustness"] else "occlusion_random"
        levels = list(r["robustness"][key])
        curve.plot([100 * float(x) for x in levels], [r["robustness"][key][x]["linear"] for x in levels], marker="o", label=r["variant"])
    curve.set(xlabel="object patches blanked (%)", ylabel="linear accuracy (%)", title="occlusion robustness")
    curve.grid(alpha=0.3)
    curve.legend(fontsize=7)
    x = np.arange(len(rows))
    for i, (key, label) in enumerate((("knn_acc", "kNN"), ("linear_acc", "linear"), ("dense_miou", "dense mIoU"))):
        bars.bar(x + (i - 1) * 0.27, [r[key] for r in rows], 0.27, label=label)
    bars.set_xticks(x, [r["variant"] for r in rows], rotation=25, ha="right", fontsize=8)
    bars.set(ylabel="%", title="accuracy and dense mIoU")
    bars.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path
