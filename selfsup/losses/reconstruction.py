"""MAE's pixel reconstruction loss (He et al., CVPR 2022)."""

from __future__ import annotations

from torch import Tensor


def reconstruction_loss(pred: Tensor, target: Tensor, dropped: Tensor, norm_pix: bool = True) -> Tensor:
    """Mean squared error over the dropped patches only.

    pred, target (B, N, L): per-patch pixels (``patchify``); dropped (B, N) bool. With
    ``norm_pix`` each target patch is normalised by its own mean and variance (MAE's default
    for better features).
    """
    target = target.float()
    if norm_pix:
        mean, var = target.mean(dim=-1, keepdim=True), target.var(dim=-1, keepdim=True)
        target = (target - mean) / (var + 1e-6).sqrt()
    per_patch = ((pred.float() - target) ** 2).mean(dim=-1)  # (B, N)
    weights = dropped.float()
    return (per_patch * weights).sum() / weights.sum().clamp_min(1.0)
