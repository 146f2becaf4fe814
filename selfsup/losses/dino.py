"""DINO's self-distillation loss (Caron et al., ICCV 2021) and the teacher targets it uses:
momentum centring + sharpening (DINO) or Sinkhorn-Knopp normalisation (DINOv2)."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..core.distributed import all_reduce_max, all_reduce_mean, all_reduce_sum

CENTERINGS = ("center", "sinkhorn", "none")


def cross_entropy_pairs(teacher_probs: Tensor, student_logits: Tensor, student_temp: float) -> Tensor:
    """Mean cross-entropy over (teacher view g, student view v) pairs with v != g.

    teacher_probs (G, B, K): targets for the G global views; student_logits (V, B, K) for all V
    views, the first G being the same global views. Same-view pairs are left out.
    """
    g, v = teacher_probs.shape[0], student_logits.shape[0]
    log_p = F.log_softmax(student_logits.float() / student_temp, dim=-1)  # (V, B, K)
    ce = -torch.einsum("gbk,vbk->gv", teacher_probs.float(), log_p) / teacher_probs.shape[1]  # (G, V)
    keep = ~torch.eye(g, v, dtype=torch.bool, device=ce.device)
    return ce[keep].mean()


@torch.no_grad()
def sinkhorn_knopp(teacher_logits: Tensor, temp: float, n_iters: int = 3) -> Tensor:
    """Teacher logits (M, K) -> targets (M, K) whose rows sum to 1 and whose columns each sum
    to M / K (equal use of every prototype), computed over the rows of all processes."""
    logits = teacher_logits.float()
    shift = all_reduce_max(logits.max())  # one shift for every process keeps the result exact
    q = torch.exp((logits - shift) / temp).t()  # (K, M)
    k = q.shape[0]
    m = all_reduce_sum(torch.tensor(float(q.shape[1]), device=q.device))
    q /= all_reduce_sum(q.sum())
    for _ in range(n_iters):
        q /= all_reduce_sum(q.sum(dim=1, keepdim=True))  # each prototype gets mass 1/K
        q /= k
        q /= q.sum(dim=0, keepdim=True)  # each sample gets mass 1/M
        q /= m
    return (q * m).t()


class TeacherTargets(nn.Module):
    """Turns teacher logits (M, K) into target distributions and keeps the running centre.

    ``center``: softmax((logits - c) / T) with c an EMA (``momentum``) of the batch-mean logits,
    all-reduced across processes; ``sinkhorn``: Sinkhorn-Knopp (3 iterations); ``none``:
    softmax(logits / T) (the collapse study's "no centring").
    """

    def __init__(self, dim: int, centering: str = "center", momentum: float = 0.9) -> None:
        super().__init__()
        if centering not in CENTERINGS:
            raise ValueError(f"unknown centering '{centering}'; valid: {', '.join(CENTERINGS)}")
        self.centering = centering
        self.momentum = momentum
        self.register_buffer("center", torch.zeros(1, dim))

    @torch.no_grad()
    def forward(self, logits: Tensor, temp: float) -> Tensor:
        logits = logits.float()
        if self.centering == "sinkhorn":
            return sinkhorn_knopp(logits, temp)
        if self.centering == "center":
            probs = F.softmax((logits - self.center) / temp, dim=-1)
            self.update_center(logits)
            return probs
        return F.softmax(logits / temp, dim=-1)

    @torch.no_grad()
    def update_center(self, logits: Tensor) -> None:
        """center = m * center + (1 - m) * mean of ``logits`` (M, K) over all processes' rows."""
        batch_center = all_reduce_mean(logits.float().mean(dim=0, keepdim=True))
        self.center.mul_(self.momentum).add_(batch_center, alpha=1 - self.momentum)


@torch.no_grad()
def distillation_diagnostics(teacher_probs: Tensor, cross_entropy: Tensor) -> dict[str, Tensor]:
    """Collapse monitors from targets (G, B, K) and the loss's mean cross-entropy over its view pairs.

    ``teacher_entropy``: mean per-sample entropy of the targets (log K: uniform collapse);
    ``teacher_batch_entropy``: entropy of their batch mean (near 0: one dimension dominates);
    ``kl``: KL(teacher || student) = cross-entropy - teacher entropy (near 0: nothing left to learn).
    """
    t = teacher_probs.float()
    entropy = -(t * t.clamp_min(1e-12).log()).sum(-1)  # (G, B)
    mean_t = t.mean(dim=(0, 1))
    batch_entropy = -(mean_t * mean_t.clamp_min(1e-12).log()).sum()
    return {"teacher_entropy": entropy.mean(), "teacher_batch_entropy": batch_entropy, "kl": cross_entropy.detach() - entropy.mean()}
