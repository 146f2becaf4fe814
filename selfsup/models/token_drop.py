"""Which patch tokens a student keeps: by the teacher's [CLS] attention (AttnDrop), at random
(MAE), or the least-attended ones (the contrast that shows attention matters)."""

from __future__ import annotations

import torch
from timm.models.vision_transformer import VisionTransformer
from torch import Tensor

from .tokens import forward_tokens, grid_size

POLICIES = ("attention", "random", "low_attention")


def check_keep_ratio(keep_ratio: float) -> None:
    if not 0.0 < keep_ratio <= 1.0:
        raise ValueError(f"keep_ratio must be in (0, 1], got {keep_ratio}")


def keep_count(num_patches: int, keep_ratio: float) -> int:
    """How many of ``num_patches`` tokens a ``keep_ratio`` keeps (at least one)."""
    check_keep_ratio(keep_ratio)
    return max(1, round(num_patches * keep_ratio))


def select_tokens(scores: Tensor, n_keep: int, policy: str) -> Tensor:
    """Patch scores (B, N) (the teacher's [CLS] attention) -> kept indices (B, n_keep), ascending.

    ``attention``: the n_keep highest scores; ``low_attention``: the lowest; ``random``: a
    uniform draw per image (scores unused). Ascending order keeps the tokens in raster order.
    """
    if policy == "attention":
        idx = scores.topk(n_keep, dim=1).indices
    elif policy == "low_attention":
        idx = scores.topk(n_keep, dim=1, largest=False).indices
    elif policy == "random":
        idx = torch.rand(scores.shape, device=scores.device).argsort(dim=1)[:, :n_keep]
    else:
        raise ValueError(f"unknown token policy '{policy}'; valid: {', '.join(POLICIES)}")
    return idx.sort(dim=1).values


def kept_mask(keep: Tensor, num_patches: int) -> Tensor:
    """Kept indices (B, K) -> bool mask (B, N), True where a patch is kept."""
    mask = torch.zeros(keep.shape[0], num_patches, dtype=torch.bool, device=keep.device)
    return mask.scatter_(1, keep, True)


def forward_kept(vit: VisionTransformer, x: Tensor, scores: Tensor, keep_ratio: float, policy: str) -> tuple[Tensor, Tensor | None]:
    """Run ``vit`` on the patches a policy keeps: images (B, C, H, W), patch scores (B, N) ->
    output tokens (B, P + K, D) and the kept indices (B, K), ascending; or every token and
    None when ``keep_ratio`` keeps them all."""
    h, w = grid_size(vit, x)
    n_keep = keep_count(h * w, keep_ratio)
    if n_keep == h * w:
        return forward_tokens(vit, x), None
    keep = select_tokens(scores, n_keep, policy)
    return forward_tokens(vit, x, keep=keep), keep
