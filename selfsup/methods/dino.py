"""DINO (Caron et al., ICCV 2021) and the DINOv2 recipe's parts (Oquab et al., 2023): iBOT's
masked patch loss (Zhou et al., ICLR 2022), KoLeo, and Sinkhorn-Knopp teacher targets."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch import Tensor

from ..config import DINOConfig, ModelConfig
from ..heads import DINOHead
from ..losses import TeacherTargets, block_masks, cross_entropy_pairs, distillation_diagnostics, koleo_loss, masked_patch_loss
from ..models.tokens import forward_tokens, grid_size, is_vit, patch_tokens, pool, require_vit
from ..train.ema import EMA
from ..train.schedules import cosine, linear_warmup
from .base import Method


class DINO(Method):
    """Student (backbone + DINO head) and EMA teacher; the teacher sees the global views, the
    student every view; cross-entropy over all (teacher global, student other view) pairs.

    With ``ibot_weight > 0`` (ViT backbones) the student's global views get block masks (mask
    tokens in place of masked patches) and an iBOT head distils the teacher's patch targets at
    the masked positions; ``koleo_weight`` adds KoLeo on the student's global-view features.
    """

    def __init__(self, backbone: nn.Module, cfg: DINOConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1) -> None:
        super().__init__(total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        self.head = DINOHead(backbone.num_features, cfg.out_dim, cfg.hidden_dim, cfg.bottleneck_dim, norm_last_layer=cfg.norm_last_layer, use_bn=cfg.use_bn_in_head)
        self.targets = TeacherTargets(cfg.out_dim, cfg.centering, cfg.center_momentum)
        students: list[nn.Module] = [self.backbone, self.head]
        self.register_parameter("mask_token", None)  # set below when iBOT is on
        if cfg.ibot_weight > 0:
            vit = require_vit(backbone, "iBOT (method.ibot_weight > 0)")
            self.mask_token = nn.Parameter(torch.zeros(vit.embed_dim))
            nn.init.trunc_normal_(self.mask_token, std=0.02)
            self.ibot_head = DINOHead(backbone.num_features, cfg.ibot_out_dim, cfg.hidden_dim, cfg.bottleneck_dim, norm_last_layer=cfg.norm_last_layer, use_bn=cfg.use_bn_in_head)
            self.patch_targets = TeacherTargets(cfg.ibot_out_dim, cfg.centering, cfg.center_momentum)
            students.append(self.ibot_head)
        self.teacher = nn.ModuleList([copy.deepcopy(m) for m in students])  # backbone, head[, iBOT head]
        self.ema = EMA(list(zip(students, self.teacher)))
        self.freeze_steps = round(cfg.freeze_last_layer_epochs * steps_per_epoch)
        self.warmup_steps = round(cfg.warmup_teacher_temp_epochs * steps_per_epoch)

    def teacher_temp(self, step: int) -> float:
        return linear_warmup(step, self.warmup_steps, self.cfg.warmup_teacher_temp, self.cfg.teacher_temp)

    def ibot_teacher_temp(self, step: int) -> float:
        return linear_warmup(step, self.warmup_steps, self.cfg.ibot_warmup_teacher_temp, self.cfg.ibot_teacher_temp)

    def momentum(self, step: int) -> float:
        return cosine(step, self.total_steps, self.cfg.momentum, self.cfg.momentum_end)

    def _encode(self, backbone: nn.Module, x: Tensor, mask: Tensor | None = None, mask_token: Tensor | None = None) -> tuple[Tensor, Tensor | None]:
        """Images (B, C, H, W) -> pooled features (B, D) and, for ViTs, patch tokens (B, N, D)."""
        if not is_vit(backbone):
            return backbone(x), None
        tokens = forward_tokens(backbone, x, mask, mask_token)
        return pool(backbone, tokens), patch_tokens(backbone, tokens)

    def training_step(self, views: list[Tensor], step: int) -> dict[str, Tensor]:
        cfg = self.cfg
        g = sum(1 for v in views if v.shape == views[0].shape)  # global views first, locals are smaller
        b = views[0].shape[0]
        globals_ = torch.cat(views[:g])  # (G*B, C, H, W)
        masks = None
        if cfg.ibot_weight > 0:
            h, w = grid_size(self.backbone, globals_)
            masks = block_masks(g * b, h, w, cfg.ibot_mask_ratio, cfg.ibot_mask_prob).to(globals_.device)  # (G*B, N)

        with torch.no_grad():
            t_feat, t_patches = self._encode(self.teacher[0], globals_)
            t_probs = self.targets(self.teacher[1](t_feat), self.teacher_temp(step)).view(g, b, -1)  # (G, B, K)

        s_feat, s_patches = self._encode(self.backbone, globals_, masks, self.mask_token)
        s_logits = [self.head(s_feat)]  # (G*B, K)
        if len(views) > g:
            s_local, _ = self._encode(self.backbone, torch.cat(views[g:]))  # (L*B, D)
            s_logits.append(self.head(s_local))
        s_logits = torch.cat(s_logits).view(len(views), b, -1)  # (V, B, K)

        dino = cross_entropy_pairs(t_probs, s_logits, cfg.student_temp)
        out = {"dino_loss": dino.detach(), **distillation_diagnostics(t_probs, dino)}
        loss = dino
        if cfg.koleo_weight > 0:
            koleo = sum(koleo_loss(f) for f in s_feat.chunk(g))
            out["koleo_loss"] = koleo.detach()
            loss = loss + cfg.koleo_weight * koleo
        if masks is not None:
            with torch.no_grad():
                t_patch_probs = self.patch_targets(self.teacher[2](t_patches[masks]), self.ibot_teacher_temp(step))  # (M, K')
            ibot = masked_patch_loss(self.ibot_head(s_patches[masks]), t_patch_probs, masks, cfg.student_temp)
            out["ibot_loss"] = ibot.detach()
            loss = loss + cfg.ibot_weight * ibot
        out["loss"] = loss
        out["features"] = s_feat[:b].detach()
        return out

    def last_layers(self) -> list[nn.Parameter]:
        heads = [self.head] + ([self.ibot_head] if self.cfg.ibot_weight > 0 else [])
        return [p for head in heads for p in head.last_layer.parameters()]

    def before_optimizer_step(self, step: int) -> None:
        # DINO keeps the prototypes fixed at first: a moving last layer early on lets training collapse.
        if step < self.freeze_steps:
            for p in self.last_layers():
                p.grad = None

    def on_step_end(self, step: int) -> None:
        self.ema.update(self.momentum(step))
