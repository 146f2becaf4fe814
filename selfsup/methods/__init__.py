"""Methods: one file each; ``build_method`` picks one by its config's name."""

from __future__ import annotations

import torch.nn as nn

from ..config import METHOD_CONFIGS, ModelConfig
from .attndrop import AttnDrop
from .base import Method
from .byol import BYOL
from .dino import DINO
from .mae import MAE
from .simclr import SimCLR

METHODS: dict[str, type[Method]] = {"simclr": SimCLR, "byol": BYOL, "dino": DINO, "attndrop": AttnDrop, "mae": MAE}

__all__ = ["AttnDrop", "BYOL", "DINO", "MAE", "METHODS", "Method", "SimCLR", "build_method"]


def build_method(cfg, backbone: nn.Module, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> Method:
    if cfg.name not in METHODS:
        raise ValueError(f"unknown method '{cfg.name}'; valid methods: {', '.join(sorted(METHOD_CONFIGS))}")
    return METHODS[cfg.name](backbone, cfg, model_cfg, total_steps, steps_per_epoch)
