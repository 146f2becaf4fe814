"""The LoGo study: BYOL with the same two local crops per image, used three ways (Zhang et al.,
CVPR 2022): not at all (plain BYOL), pulled towards the global views (local-global attraction,
no repulsion), and LoGo's both terms (attraction plus the learned local-local repulsion). Every
variant draws the same crops, so the repulsion's effect is isolated by the last two. LoGo clips
the repulsion's gradient to a fraction of the attraction's, so a repulsion without the
local-global term is no variant of LoGo (its clip would be zero): plain BYOL stands for it."""

from __future__ import annotations

import copy
from typing import Any

from ..config import Config
from .report import ROBUSTNESS_COLUMNS, claim, compare, plot_study
from .runner import evaluate_run
from .spec import Study

VARIANTS = ("BYOL", "BYOL + local-global", "BYOL + LoGo")


def variant_config(base: Config, variant: str) -> Config:
    """The LoGo preset, without the repulsion, or without LoGo's loss (its local crops still drawn)."""
    cfg = copy.deepcopy(base)
    cfg.method.logo = variant != "BYOL"
    if variant == "BYOL + local-global":
        cfg.method.repel_weight = 0.0
    return cfg


def _accuracies(r: dict[str, Any]) -> str:
    return f"kNN {r['knn_acc']:.1f}, linear {r['linear_acc']:.1f}"


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    out = []
    for a, b, text in (
        ("BYOL + LoGo", "BYOL", "LoGo improves BYOL's features"),
        ("BYOL + LoGo", "BYOL + local-global", "the local-local repulsion improves on local-global attraction alone"),
        ("BYOL + local-global", "BYOL", "local-global attraction improves BYOL's features"),
    ):
        if a in by and b in by:
            d, outcome = compare(by, a, b)
            out.append(claim(text, f"{a}: {_accuracies(by[a])}; {b}: {_accuracies(by[b])}; difference {d.text()}", outcome))
    return out


STUDY = Study(
    name="logo",
    title="LoGo on BYOL",
    question="Zhang et al., CVPR 2022: LoGo's local views, pulled towards the global views and pushed apart from each other, give better features than the same method without them, and the local-local repulsion adds to the local-global attraction. Every variant draws the same two local crops per image; plain BYOL ignores them.",
    method="byol",
    preset="configs/logo_mnist.yaml",
    gpu_preset="configs/logo_folder_gpu.yaml",
    variants=lambda base: VARIANTS,
    configure=variant_config,
    evaluate=evaluate_run,
    columns=ROBUSTNESS_COLUMNS,
    judge=judge_claims,
    plot=plot_study,
    plot_name="logo.png",
)
