"""The AttnDrop study: what each of the method's three parts buys, measured as runs of the same
method with one part switched off, beside DINO+iBOT and MAE on the same data, crops and budget.

Claims under test (each compares the full method with one ablation):
1. patch distillation gives better dense features: dense-probe mIoU, full vs no ``L_patch``;
2. attention-guided dropping makes training cheaper without losing accuracy: the whole step's
   time as the token-dropping benchmark measures it (:mod:`selfsup.train.step_time`), with the
   run's tokens and then with every token, back to back after each run, so neither a loaded
   machine during training nor the machine's speed an hour later decides it; and kNN / linear
   accuracy, full vs keep 1.0, and attention-guided vs random dropping;
3. reconstructing the dropped patches makes features robust to occlusion: linear accuracy with
   50 % of the patches blanked at random, full vs no ``L_recon``.
"""

from __future__ import annotations

import copy
import dataclasses
from pathlib import Path
from typing import Any

from ..config import AttnDropConfig, Config, DINOConfig, DistillConfig, MAEConfig
from ..train.runs import load_run
from ..train.step_time import step_seconds
from .report import MARGIN, ROBUSTNESS_COLUMNS, claim, col, compare, floored, gain, occluded, plot_study
from .runner import evaluate_run
from .spec import Row, Study
from .stats import noninferiority

FULL = "AttnDrop"  # every part on: the variant each ablation is compared with
# variant -> changes to the AttnDrop preset's method section (DINO+iBOT and MAE: see variant_config)
ABLATIONS: dict[str, dict[str, Any]] = {
    FULL: {},
    "no patch loss": {"w_patch": 0.0},
    "no dropping (keep 1.0)": {"keep_ratio": 1.0},
    "no reconstruction": {"w_recon": 0.0},
    "random dropping": {"drop_policy": "random"},
    "lowest-attention dropping": {"drop_policy": "low_attention"},
}
REFERENCES = ("DINO+iBOT", "MAE")
VARIANTS = (*ABLATIONS, *REFERENCES)


def dino_ibot_config(attndrop: AttnDropConfig) -> DINOConfig:
    """DINO + iBOT with AttnDrop's heads, temperatures, centring and EMA: the reference the
    method's cost and accuracy are compared with."""
    shared = {f.name: getattr(attndrop, f.name) for f in dataclasses.fields(DistillConfig) if f.name != "name"}
    return DINOConfig(**shared, ibot_weight=1.0)


def variant_config(base: Config, variant: str) -> Config:
    """The AttnDrop preset ``base`` with one part changed, or the reference method on the same
    data, backbone, optimizer and budget (MAE takes the global crops only)."""
    cfg = copy.deepcopy(base)
    if variant in ABLATIONS:
        cfg.method = dataclasses.replace(cfg.method, **ABLATIONS[variant])
    elif variant == "DINO+iBOT":
        cfg.method = dino_ibot_config(base.method)
    elif variant == "MAE":
        m = base.method
        cfg.method = MAEConfig(norm_pix_loss=m.norm_pix_loss, decoder_dim=m.decoder_dim, decoder_depth=m.decoder_depth, decoder_heads=m.decoder_heads)
        cfg.augment.n_local = 0
    else:
        raise ValueError(f"unknown variant '{variant}'; valid: {', '.join(VARIANTS)}")
    return cfg


def evaluate(run_dir: Path, summary: Row) -> Row:
    """:func:`evaluate_run` plus the whole training step's median time (ms) on the run's config;
    a run that drops tokens is timed again right after with every token kept (``step_ms_every_token``)
    and ``speedup`` is the ratio of the two, measured minutes apart at most."""
    cfg = load_run(run_dir).cfg
    row = {**evaluate_run(run_dir, summary), "step_ms": 1e3 * step_seconds(cfg, steps=10)}
    if isinstance(cfg.method, AttnDropConfig) and cfg.method.keep_ratio < 1:
        cfg.method = dataclasses.replace(cfg.method, keep_ratio=1.0)
        row["step_ms_every_token"] = 1e3 * step_seconds(cfg, steps=10)
        row["speedup"] = row["step_ms_every_token"] / row["step_ms"]
    return row


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    """One line per claim the variants run can test: the comparison, the numbers and the verdict."""
    full = by.get(FULL)
    if full is None:
        return []
    out = []
    if "no patch loss" in by:
        a, b = full["dense_miou"], by["no patch loss"]["dense_miou"]
        d, outcome = compare(by, FULL, "no patch loss", ["dense_miou"])
        out.append(claim("patch distillation improves dense features", f"dense mIoU {a:.1f} vs {b:.1f} without L_patch; difference {d.text()}", outcome))
    if "no dropping (keep 1.0)" in by:
        keep = by["no dropping (keep 1.0)"]
        speed = full["speedup"]  # the mean over seeds of each run's step timed back to back with every token
        d = gain(full, keep)
        out.append(
            claim(
                "dropping half the tokens trains faster at no accuracy cost",
                f"whole step {speed:.2f}x faster (± {full['std']['speedup']:.2f}; {full['step_ms']:.0f} vs {full['step_ms_every_token']:.0f} ms with every token, timed back to back after each run); kNN {full['knn_acc']:.1f} vs {keep['knn_acc']:.1f}, linear {full['linear_acc']:.1f} vs {keep['linear_acc']:.1f} with every token; difference {d.text()}, no cost: more than -{MARGIN:.0f}",
                floored(by, noninferiority(d, MARGIN), [FULL]) if speed > 1.0 else "did not hold",
            )
        )
    if "random dropping" in by:
        rnd = by["random dropping"]
        d, outcome = compare(by, FULL, "random dropping")
        evidence = f"kNN {full['knn_acc']:.1f} vs {rnd['knn_acc']:.1f}, linear {full['linear_acc']:.1f} vs {rnd['linear_acc']:.1f} with random dropping; difference {d.text()}"
        out.append(claim("the teacher's attention picks better tokens than chance", evidence, outcome))
    if "no reconstruction" in by:
        # Judged on random patches: with half of the object's patches blanked every variant falls to chance here.
        nr = by["no reconstruction"]
        a, b = occluded(full, where="random"), occluded(nr, where="random")
        evidence = f"linear accuracy with 50 % of the patches blanked at random {a:.1f} vs {b:.1f} without L_recon"
        if "occlusion_object" in full["robustness"]:
            evidence += f" (object patches first: {occluded(full):.1f} vs {occluded(nr):.1f})"
        path = ("robustness", "occlusion_random", "0.5", "linear")
        d, outcome = compare(by, FULL, "no reconstruction", [path])
        out.append(claim("reconstruction makes features robust to occlusion", evidence + f"; difference {d.text()}", outcome))
    return out


STUDY = Study(
    name="attndrop",
    title="What each part of AttnDrop buys",
    question="each part of AttnDrop pays for itself: patch distillation gives better dense features (dense mIoU, full vs no L_patch); attention-guided dropping trains faster at no accuracy cost (the whole step's time as the token-dropping benchmark measures it, each run's step timed back to back with the same step keeping every token, and accuracy, vs keep 1.0) and picks better tokens than chance (vs random dropping); reconstructing the dropped patches makes features robust to occlusion (accuracy with half the patches blanked, vs no L_recon). DINO+iBOT and MAE run on the same data, crops and budget for reference.",
    method="attndrop",
    preset="configs/attndrop_shapes.yaml",
    gpu_preset="configs/attndrop_folder_gpu.yaml",
    variants=lambda base: VARIANTS,
    configure=variant_config,
    evaluate=evaluate,
    columns=(*ROBUSTNESS_COLUMNS, col("step ms", "step_ms", fmt=".0f"), col("speed-up, paired", "speedup", fmt=".2f")),
    judge=judge_claims,
    plot=plot_study,
    plot_name="attndrop.png",
    epochs=5,  # eight runs inside the 30-minute CPU budget (~27 min on 2 slow cores)
)
