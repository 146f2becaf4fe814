"""Claim studies: each runs a grid of trainings (variants x seeds) through one runner and writes a
table, claims judged by a rule, and plots; ``selfsup report`` gathers them into one document.

The registry below is import-light (the CLI builds its help from it); :func:`load_study` imports
a study's module, which defines ``STUDY``."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .spec import Study

# CLI name -> what it tests, in the report's order
STUDIES: dict[str, str] = {
    "simclr-vs-byol": "SimCLR vs BYOL at batch B..B/8 and without colour augmentation",
    "lars": "SimCLR at a large batch with SGD + linear LR scaling vs LARS",
    "byol-collapse": "BYOL with / without the predictor and the EMA target",
    "dino-collapse": "DINO with / without centring and sharpening",
    "attndrop": "AttnDrop's ablations beside DINO+iBOT and MAE",
    "logo": "BYOL with and without LoGo",
}


def load_study(name: str) -> Study:
    if name not in STUDIES:
        raise ValueError(f"unknown study '{name}'; valid: {', '.join(STUDIES)}")
    return importlib.import_module(f".{name.replace('-', '_')}", __package__).STUDY
