"""The LoGo study: BYOL with and without LoGo (local-global attraction + learned local-local
repulsion, Zhang et al., CVPR 2022) on one preset and budget. The claim under test: LoGo's
extra local views and repulsion give better features than the same method without them."""

from __future__ import annotations

import copy
from typing import Any

from ..config import Config
from .report import ROBUSTNESS_COLUMNS, claim, gain, plot_study, verdict
from .runner import evaluate_run
from .spec import Study

VARIANTS = ("BYOL", "BYOL + LoGo")


def variant_config(base: Config, variant: str) -> Config:
    """The LoGo preset, or the same BYOL without LoGo (and so without the local views it needs)."""
    cfg = copy.deepcopy(base)
    cfg.method.logo = variant == "BYOL + LoGo"
    if not cfg.method.logo:
        cfg.augment.n_local = 0
    return cfg


def judge_claims(by: dict[str, dict[str, Any]]) -> list[dict[str, str]]:
    if set(VARIANTS) - by.keys():
        return []
    logo, byol = by["BYOL + LoGo"], by["BYOL"]
    d = gain(logo, byol)
    evidence = f"kNN {logo['knn_acc']:.1f} vs {byol['knn_acc']:.1f}, linear {logo['linear_acc']:.1f} vs {byol['linear_acc']:.1f} without LoGo; difference {d.text()}"
    return [claim("LoGo improves BYOL's features", evidence, verdict(d))]


STUDY = Study(
    name="logo",
    title="LoGo on BYOL",
    question="Zhang et al., CVPR 2022: LoGo's extra local views, pulled towards the global views and pushed apart from each other, give better features than the same method without them.",
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
