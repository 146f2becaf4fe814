"""BYOL: Bootstrap Your Own Latent (Grill et al., NeurIPS 2020)."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch import Tensor

from ..config import BYOLConfig, ModelConfig
from ..heads import prediction_head, projection_head
from ..losses import byol_loss
from ..train.ema import EMA
from ..train.schedules import cosine
from .base import Method


class BYOL(Method):
    """Online backbone + projector + predictor; an EMA target (backbone + projector) with a
    cosine momentum schedule (``momentum`` -> ``momentum_end``); symmetric loss over two views."""

    def __init__(self, backbone: nn.Module, cfg: BYOLConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        super().__init__(total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        self.projector = projection_head(backbone.num_features, model_cfg.proj_hidden, model_cfg.proj_dim)
        self.predictor = prediction_head(model_cfg.proj_dim, model_cfg.pred_hidden)
        self.target_backbone = copy.deepcopy(backbone)
        self.target_projector = copy.deepcopy(self.projector)
        self.ema = EMA([(self.backbone, self.target_backbone), (self.projector, self.target_projector)])

    def training_step(self, views: list[Tensor], step: int) -> dict[str, Tensor]:
        b = views[0].shape[0]
        x = torch.cat(views[:2])  # (2B, C, H, W)
        h = self.backbone(x)  # (2B, D)
        p1, p2 = self.predictor(self.projector(h)).chunk(2)  # (B, P) each
        with torch.no_grad():
            z1, z2 = self.target_projector(self.target_backbone(x)).chunk(2)
        loss = byol_loss(p1, z2) + byol_loss(p2, z1)
        return {"loss": loss, "features": h[:b].detach()}

    def momentum(self, step: int) -> float:
        return cosine(step, self.total_steps, self.cfg.momentum, self.cfg.momentum_end)

    def on_step_end(self, step: int) -> None:
        self.ema.update(self.momentum(step))
