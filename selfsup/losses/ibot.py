"""iBOT's masked patch self-distillation (Zhou et al., ICLR 2022) and its block-wise masks."""

from __future__ import annotations

import math
import random

import torch
import torch.nn.functional as F
from torch import Tensor


def masked_patch_loss(student_logits: Tensor, teacher_probs: Tensor, mask: Tensor, student_temp: float) -> Tensor:
    """Patch cross-entropy at masked positions only.

    student_logits, teacher_probs (M, K): the M masked patches of a batch of B images (rows of
    ``mask`` (B, N) taken in order). Each image's loss is the mean over its masked patches; the
    batch loss sums those and divides by B (images without a mask add 0), as iBOT and DINOv2 do.
    """
    per_patch = -(teacher_probs.float() * F.log_softmax(student_logits.float() / student_temp, dim=-1)).sum(-1)  # (M,)
    counts = mask.sum(dim=1)  # (B,)
    weights = (1.0 / counts.clamp_min(1)).repeat_interleave(counts)  # (M,)
    return (per_patch * weights).sum() / mask.shape[0]


def _block_mask(h: int, w: int, n_target: int, rng: random.Random) -> Tensor:
    """One (h, w) mask with exactly ``n_target`` cells set, mostly as rectangular blocks."""
    mask = torch.zeros(h, w, dtype=torch.bool)
    count, misses = 0, 0
    while count < n_target and misses < 10:
        left = n_target - count
        area = rng.uniform(min(4, left), left)
        aspect = math.exp(rng.uniform(math.log(0.3), math.log(1 / 0.3)))
        bh = min(h, max(1, round(math.sqrt(area * aspect))))
        bw = min(w, max(1, round(math.sqrt(area / aspect))))
        top, lft = rng.randint(0, h - bh), rng.randint(0, w - bw)
        new = int((~mask[top : top + bh, lft : lft + bw]).sum())
        if 0 < new <= left:
            mask[top : top + bh, lft : lft + bw] = True
            count += new
            misses = 0
        else:
            misses += 1
    if count < n_target:  # top up with single cells so the ratio is the one drawn
        free = (~mask).flatten().nonzero().flatten().tolist()
        mask.view(-1)[rng.sample(free, n_target - count)] = True
    return mask


def block_masks(batch: int, h: int, w: int, ratio: tuple[float, float], prob: float) -> Tensor:
    """Block-wise masks (batch, h * w) bool: a fraction ``prob`` of the images is masked, each
    at a ratio drawn uniformly from ``ratio``; the rest get no mask. Draws follow torch's RNG."""
    rng = random.Random(int(torch.randint(2**62, (1,))))
    n = h * w
    masks = torch.zeros(batch, n, dtype=torch.bool)
    n_masked = int(round(batch * prob))
    for i in rng.sample(range(batch), n_masked):
        n_target = max(1, round(rng.uniform(*ratio) * n))
        masks[i] = _block_mask(h, w, n_target, rng).flatten()
    return masks
