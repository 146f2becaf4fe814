"""SimCLR: A Simple Framework for Contrastive Learning of Visual Representations (Chen et al., ICML 2020)."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..config import ModelConfig, SimCLRConfig
from ..heads import projection_head
from ..losses import ntxent_loss
from .base import Batch, Method


class SimCLR(Method):
    """Backbone + projector; NT-Xent between two views, negatives gathered across processes."""

    def __init__(self, backbone: nn.Module, cfg: SimCLRConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        super().__init__(total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        self.projector = projection_head(backbone.num_features, model_cfg.proj_hidden, model_cfg.proj_dim)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        views = batch.views
        b = views[0].shape[0]
        h = self.backbone(torch.cat(views[:2]))  # (2B, D): both views in one pass
        z1, z2 = self.projector(h).chunk(2)  # (B, P) each
        loss = ntxent_loss(z1, z2, self.cfg.temperature, self.cfg.gather_distributed)
        return {"loss": loss, "features": h[:b].detach()}
