"""Methods: one file each; ``build_method`` picks one by its config's name."""

from __future__ import annotations

import torch.nn as nn

from ..config import METHOD_CONFIGS, ModelConfig
from ..text import TextSpec
from .attndrop import AttnDrop
from .base import Method
from .byol import BYOL
from .clip import CLIP
from .coca import CoCa
from .dino import DINO
from .image_text import ImageTextMethod
from .mae import MAE
from .prefix_lm import PrefixLM
from .simclr import SimCLR

METHODS: dict[str, type[Method]] = {"simclr": SimCLR, "byol": BYOL, "dino": DINO, "attndrop": AttnDrop, "mae": MAE, "clip": CLIP, "coca": CoCa, "prefix_lm": PrefixLM}

__all__ = ["AttnDrop", "BYOL", "CLIP", "CoCa", "DINO", "ImageTextMethod", "MAE", "METHODS", "Method", "PrefixLM", "SimCLR", "build_method", "method_class"]


def method_class(name: str) -> type[Method]:
    if name not in METHODS:
        raise ValueError(f"unknown method '{name}'; valid methods: {', '.join(sorted(METHOD_CONFIGS))}")
    return METHODS[name]


def build_method(cfg, backbone: nn.Module, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1, text: TextSpec | None = None) -> Method:
    """The method ``cfg.name``; image-text methods also take the tokenizer's ``text`` spec."""
    cls = method_class(cfg.name)
    if cls.uses_text:
        return cls(backbone, cfg, model_cfg, total_steps, steps_per_epoch, text=text)
    return cls(backbone, cfg, model_cfg, total_steps, steps_per_epoch)
