"""The LoGo study: BYOL with and without LoGo (local-global attraction + learned local-local
repulsion, Zhang et al., CVPR 2022) on one preset and budget. The claim under test: LoGo's
extra local views and repulsion give better features than the same method without them."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

from ..config import Config
from .report import verdict, write_study
from .runner import evaluate_run, run_variants

VARIANTS = ("BYOL", "BYOL + LoGo")


def variant_config(base: Config, variant: str, out_dir: Path) -> Config:
    """The LoGo preset, or the same BYOL without LoGo (and so without the local views it needs)."""
    cfg = copy.deepcopy(base)
    cfg.method.logo = variant == "BYOL + LoGo"
    if not cfg.method.logo:
        cfg.augment.n_local = 0
    cfg.train.out_dir = str(out_dir)
    cfg.train.run_name = variant.replace(" + ", "_").replace(" ", "_")
    return cfg


def judge_claims(rows: list[dict[str, Any]]) -> list[dict[str, str]]:
    by = {r["variant"]: r for r in rows}
    if set(VARIANTS) - by.keys():
        return []
    logo, byol = by["BYOL + LoGo"], by["BYOL"]
    gain = (logo["knn_acc"] - byol["knn_acc"] + logo["linear_acc"] - byol["linear_acc"]) / 2
    return [
        {
            "claim": "LoGo improves BYOL's features",
            "evidence": f"kNN {logo['knn_acc']:.1f} vs {byol['knn_acc']:.1f}, linear {logo['linear_acc']:.1f} vs {byol['linear_acc']:.1f} without LoGo",
            "verdict": verdict(gain),
        }
    ]


def run_study(base: Config, out_dir: Path) -> list[dict[str, Any]]:
    """Train both variants (finished ones are reused), then write ``results.json``, ``table.md``,
    ``claims.md`` and ``logo.png``."""
    if base.method.name != "byol":
        raise ValueError(f"the logo study needs a BYOL preset; got method '{base.method.name}'")
    out_dir = Path(out_dir)
    configs = {v: variant_config(base, v, out_dir) for v in VARIANTS}
    rows = run_variants(configs, evaluate_run, lambda r: f"kNN {r['knn_acc']:.1f} %, linear {r['linear_acc']:.1f} %")
    write_study(out_dir, rows, base, judge_claims(rows), "logo.png")
    return rows
