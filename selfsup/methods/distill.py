"""What DINO and AttnDrop share: a student (backbone + DINO head [+ patch head]), its EMA
teacher, the teacher's targets and the schedules (teacher temperature, EMA momentum, the
last layer frozen at first)."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch import Tensor

from ..config import DistillConfig
from ..heads import DINOHead
from ..losses import TeacherTargets, cross_entropy_pairs, distillation_diagnostics, koleo_loss
from ..models.tokens import forward_tokens, is_vit, patch_tokens, pool
from ..core.ema import EMA
from ..core.schedules import cosine, linear_warmup
from .base import Method


def count_global_views(views: list[Tensor]) -> int:
    """Global views come first and share the first view's shape; local views are smaller."""
    return sum(1 for v in views if v.shape == views[0].shape)


class SelfDistillation(Method):
    """``teacher`` holds EMA copies of [backbone, head] and, with ``with_patch_head``, the patch head."""

    def __init__(self, backbone: nn.Module, cfg: DistillConfig, total_steps: int, steps_per_epoch: int, with_patch_head: bool) -> None:
        super().__init__(total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        self.head = self._head(cfg.out_dim)
        self.targets = TeacherTargets(cfg.out_dim, cfg.centering, cfg.center_momentum)
        students: list[nn.Module] = [self.backbone, self.head]
        self.with_patch_head = with_patch_head
        if with_patch_head:
            self.patch_head = self._head(cfg.patch_out_dim)
            self.patch_targets = TeacherTargets(cfg.patch_out_dim, cfg.centering, cfg.center_momentum)
            students.append(self.patch_head)
        self.teacher = nn.ModuleList([copy.deepcopy(m) for m in students])
        self.ema = EMA(list(zip(students, self.teacher)))
        self.freeze_steps = round(cfg.freeze_last_layer_epochs * steps_per_epoch)
        self.warmup_steps = round(cfg.warmup_teacher_temp_epochs * steps_per_epoch)

    def _head(self, out_dim: int) -> DINOHead:
        c = self.cfg
        return DINOHead(self.backbone.num_features, out_dim, c.hidden_dim, c.bottleneck_dim, norm_last_layer=c.norm_last_layer, use_bn=c.use_bn_in_head)

    def teacher_temp(self, step: int) -> float:
        return linear_warmup(step, self.warmup_steps, self.cfg.warmup_teacher_temp, self.cfg.teacher_temp)

    def patch_teacher_temp(self, step: int) -> float:
        return linear_warmup(step, self.warmup_steps, self.cfg.patch_warmup_teacher_temp, self.cfg.patch_teacher_temp)

    def momentum(self, step: int) -> float:
        return cosine(step, self.total_steps, self.cfg.momentum, self.cfg.momentum_end)

    @staticmethod
    def encode(backbone: nn.Module, x: Tensor, **token_args: Tensor | None) -> tuple[Tensor, Tensor | None]:
        """Images (B, C, H, W) -> pooled features (B, D) and, for ViTs, patch tokens (B, N, D).

        ``token_args`` (``mask``/``mask_token``, ``keep``) go to :func:`forward_tokens`.
        """
        if not is_vit(backbone):
            return backbone(x), None
        tokens = forward_tokens(backbone, x, **token_args)
        return pool(backbone, tokens), patch_tokens(backbone, tokens)

    @torch.no_grad()
    def cls_targets(self, teacher_feat: Tensor, n_global: int, step: int) -> Tensor:
        """Teacher features (G*B, D) of the global views -> targets (G, B, K)."""
        return self.targets(self.teacher[1](teacher_feat), self.teacher_temp(step)).view(n_global, -1, self.cfg.out_dim)

    def cls_loss(self, teacher_probs: Tensor, student_global_feat: Tensor, local_views: list[Tensor]) -> tuple[Tensor, dict[str, Tensor]]:
        """DINO's loss over (teacher global, student view) pairs; the student sees the local views
        in full. Returns the loss and its collapse monitors."""
        g, b = teacher_probs.shape[:2]
        logits = [self.head(student_global_feat)]  # (G*B, K)
        if local_views:
            logits.append(self.head(self.encode(self.backbone, torch.cat(local_views))[0]))  # (L*B, K)
        logits = torch.cat(logits).view(g + len(local_views), b, -1)  # (V, B, K)
        loss = cross_entropy_pairs(teacher_probs, logits, self.cfg.student_temp)
        return loss, {"dino_loss": loss.detach(), **distillation_diagnostics(teacher_probs, loss)}

    def koleo_term(self, student_global_feat: Tensor, n_global: int, out: dict[str, Tensor]) -> Tensor | float:
        """``koleo_weight`` x KoLeo on the student's features (G*B, D), per global view (logged in
        ``out``); 0 when KoLeo is off."""
        if self.cfg.koleo_weight <= 0:
            return 0.0
        koleo = sum(koleo_loss(f) for f in student_global_feat.chunk(n_global))
        out["koleo_loss"] = koleo.detach()
        return self.cfg.koleo_weight * koleo

    def last_layers(self) -> list[nn.Parameter]:
        heads = [self.head] + ([self.patch_head] if self.with_patch_head else [])
        return [p for head in heads for p in head.last_layer.parameters()]

    def before_optimizer_step(self, step: int) -> None:
        # DINO keeps the prototypes fixed at first: a moving last layer early on lets training collapse.
        if step < self.freeze_steps:
            for p in self.last_layers():
                p.grad = None

    def on_step_end(self, step: int) -> None:
        self.ema.update(self.momentum(step))
