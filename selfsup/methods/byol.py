"""BYOL: Bootstrap Your Own Latent (Grill et al., NeurIPS 2020)."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch import Tensor

from ..config import BYOLConfig, ModelConfig
from ..heads import prediction_head, projection_head
from ..losses import AffinityRegressor, affinity_gap, byol_loss, clip_repulsion
from ..core.ema import EMA
from ..core.schedules import cosine
from .base import Batch, Method


class BYOL(Method):
    """Online backbone + projector + predictor; an EMA target (backbone + projector) with a
    cosine momentum schedule (``momentum`` -> ``momentum_end``); symmetric loss over two views.
    ``predictor=False`` compares the online projection with the target directly, and momentum 0
    makes the target an exact copy: the two ablations of ``selfsup study byol-collapse``.

    With ``logo`` (LoGo, Zhang et al., CVPR 2022) the local views (``augment.n_local >= 2``) are
    also pulled towards both global targets, and pushed apart from each other: the encoder
    minimises the gap a learned affinity (:class:`AffinityRegressor`) finds between local views
    of one image and of different images, with its gradient clipped to ``repel_grad_ratio``
    times the attraction's, while the regressor maximises that gap.
    """

    def __init__(self, backbone: nn.Module, cfg: BYOLConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        super().__init__(total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        self.projector = projection_head(backbone.num_features, model_cfg.proj_hidden, model_cfg.proj_dim)
        self.predictor = prediction_head(model_cfg.proj_dim, model_cfg.pred_hidden) if cfg.predictor else nn.Identity()
        self.target_backbone = copy.deepcopy(backbone)
        self.target_projector = copy.deepcopy(self.projector)
        self.ema = EMA([(self.backbone, self.target_backbone), (self.projector, self.target_projector)])
        if cfg.logo:
            self.affinity = AffinityRegressor(model_cfg.proj_dim, cfg.affinity_hidden)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        views = batch.views
        b = views[0].shape[0]
        x = torch.cat(views[:2])  # (2B, C, H, W)
        h = self.backbone(x)  # (2B, D)
        p1, p2 = self.predictor(self.projector(h)).chunk(2)  # (B, P) each
        with torch.no_grad():
            z1, z2 = self.target_projector(self.target_backbone(x)).chunk(2)
        loss = byol_loss(p1, z2) + byol_loss(p2, z1)
        out = {"features": h[:b].detach()}
        if self.cfg.logo:
            loss = self._logo(loss, views[2:], (z1, z2), out)
        out["loss"] = loss
        return out

    def _logo(self, global_loss: Tensor, local_views: list[Tensor], targets: tuple[Tensor, Tensor], out: dict[str, Tensor]) -> Tensor:
        """LoGo's loss: global-global + local-global attraction, clipped local-local repulsion,
        and the affinity regressor's own objective (minus the gap; it touches only the regressor)."""
        n = len(local_views)
        if n < 2:
            raise ValueError(f"LoGo (method.logo=true) needs augment.n_local >= 2 local views; got {n}")
        z_local = self.projector(self.backbone(torch.cat(local_views)))  # (L*B, P)
        local_global = sum(byol_loss(p, t) for p in self.predictor(z_local).chunk(n) for t in targets) / len(targets)
        attract = global_loss + local_global
        zs = z_local.chunk(n)
        pairs = [(i, j) for i in range(n) for j in range(i + 1, n)]
        repel = sum(affinity_gap(self.affinity.frozen, zs[i], zs[j]) for i, j in pairs) / len(pairs)
        repel, scale = clip_repulsion(attract, self.cfg.repel_weight * repel, z_local, self.cfg.repel_grad_ratio)
        gap = sum(affinity_gap(self.affinity, zs[i].detach(), zs[j].detach()) for i, j in pairs) / len(pairs)
        out.update({"local_global_loss": local_global.detach(), "repel_loss": repel.detach(), "repel_scale": scale, "affinity_gap": gap.detach()})
        return attract + repel - gap

    def momentum(self, step: int) -> float:
        return cosine(step, self.total_steps, self.cfg.momentum, self.cfg.momentum_end)

    def on_step_end(self, step: int) -> None:
        self.ema.update(self.momentum(step))
