"""Masked autoencoder (He et al., CVPR 2022): the encoder sees a random quarter of the patches,
a light decoder with mask tokens predicts the pixels of the rest."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..config import MAEConfig, ModelConfig
from ..losses import reconstruction_loss
from ..models.decoder import PixelDecoder, patchify
from ..models.token_drop import forward_kept, kept_mask
from ..models.tokens import grid_size, pool, require_vit
from .base import Batch, Method


class MAE(Method):
    """ViT encoder on the kept patches + :class:`PixelDecoder`; MSE on the removed patches only.

    Every view is an independent sample (MAE needs no second view: use ``augment.n_global=1``).
    ``features`` for the online probe are the encoder's pooled features of the kept patches.
    """

    def __init__(self, backbone: nn.Module, cfg: MAEConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        super().__init__(total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = require_vit(backbone, "MAE")
        if not 0.0 < cfg.mask_ratio < 1.0:
            raise ValueError(f"method.mask_ratio must be in (0, 1), got {cfg.mask_ratio}")
        self.decoder = PixelDecoder.for_vit(self.backbone, cfg.decoder_dim, cfg.decoder_depth, cfg.decoder_heads)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        views = batch.views
        if any(v.shape != views[0].shape for v in views):
            raise ValueError("MAE takes same-size views only; set augment.n_local=0")
        x = torch.cat(views)  # (V*B, C, H, W)
        grid = grid_size(self.backbone, x)
        n = grid[0] * grid[1]
        tokens, keep = forward_kept(self.backbone, x, x.new_empty(x.shape[0], n), 1.0 - self.cfg.mask_ratio, "random")  # (V*B, P + K, D), (V*B, K)
        if keep is None:
            raise ValueError(f"method.mask_ratio {self.cfg.mask_ratio} removes none of the {n} patches")
        pred = self.decoder(tokens, keep, grid)  # (V*B, N, p*p*C)
        target = patchify(x, self.backbone.patch_embed.patch_size[0])
        loss = reconstruction_loss(pred, target, ~kept_mask(keep, n), self.cfg.norm_pix_loss)
        return {"loss": loss, "recon_loss": loss.detach(), "features": pool(self.backbone, tokens)[: views[0].shape[0]].detach()}
