"""DINO (Caron et al., ICCV 2021) and the DINOv2 recipe's parts (Oquab et al., 2023): iBOT's
masked patch loss (Zhou et al., ICLR 2022), KoLeo, and Sinkhorn-Knopp teacher targets."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..config import DINOConfig, ModelConfig
from ..losses import block_masks, masked_patch_loss
from ..models.tokens import grid_size, require_vit
from .base import Batch
from .distill import SelfDistillation, count_global_views


class DINO(SelfDistillation):
    """Student (backbone + DINO head) and EMA teacher; the teacher sees the global views, the
    student every view; cross-entropy over all (teacher global, student other view) pairs.

    With ``ibot_weight > 0`` (ViT backbones) the student's global views get block masks (mask
    tokens in place of masked patches) and the patch head distils the teacher's patch targets at
    the masked positions; ``koleo_weight`` adds KoLeo on the student's global-view features.
    """

    def __init__(self, backbone: nn.Module, cfg: DINOConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        super().__init__(backbone, cfg, total_steps, steps_per_epoch, with_patch_head=cfg.ibot_weight > 0)
        self.register_parameter("mask_token", None)
        if cfg.ibot_weight > 0:
            vit = require_vit(backbone, "iBOT (method.ibot_weight > 0)")
            self.mask_token = nn.Parameter(torch.zeros(vit.embed_dim))
            nn.init.trunc_normal_(self.mask_token, std=0.02)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        views = batch.views
        cfg = self.cfg
        g = count_global_views(views)
        b = views[0].shape[0]
        globals_ = torch.cat(views[:g])  # (G*B, C, H, W)
        masks = None
        if cfg.ibot_weight > 0:
            h, w = grid_size(self.backbone, globals_)
            masks = block_masks(g * b, h, w, cfg.ibot_mask_ratio, cfg.ibot_mask_prob).to(globals_.device)  # (G*B, N)

        with torch.no_grad():
            t_feat, t_patches = self.encode(self.teacher[0], globals_)
            t_probs = self.cls_targets(t_feat, g, step)  # (G, B, K)
        s_feat, s_patches = self.encode(self.backbone, globals_, mask=masks, mask_token=self.mask_token)
        loss, out = self.cls_loss(t_probs, s_feat, views[g:])
        loss = loss + self.koleo_term(s_feat, g, out)
        if masks is not None:
            with torch.no_grad():
                t_patch_probs = self.patch_targets(self.teacher[2](t_patches[masks]), self.patch_teacher_temp(step))  # (M, K')
            ibot = masked_patch_loss(self.patch_head(s_patches[masks]), t_patch_probs, masks, cfg.student_temp)
            out["ibot_loss"] = ibot.detach()
            loss = loss + cfg.ibot_weight * ibot
        out["loss"] = loss
        out["features"] = s_feat[:b].detach()
        return out
