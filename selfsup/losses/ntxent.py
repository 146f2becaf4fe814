"""NT-Xent, the normalised-temperature cross-entropy of SimCLR (Chen et al., 2020)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..core.distributed import gather_with_grad, rank


def ntxent_loss(z1: Tensor, z2: Tensor, temperature: float = 0.5, gather_distributed: bool = False) -> Tensor:
    """Mean NT-Xent over the 2n local anchors.

    z1, z2: (n, D) projections of two views of the same n images. Each anchor is scored
    against its positive (the other view of its image) and 2(N-1) negatives: both views of
    every other image, N images in all. With ``gather_distributed`` N counts the images of
    every process (gathered with gradient); each process scores its own anchors, so the mean
    over processes is the loss of one process on the whole batch.
    """
    n = z1.shape[0]
    z1, z2 = F.normalize(z1, dim=1), F.normalize(z2, dim=1)
    if gather_distributed:
        all1, all2 = gather_with_grad(z1), gather_with_grad(z2)  # (N, D)
        offset = rank() * n  # every rank holds n images (the loader drops the last partial batch)
    else:
        all1, all2, offset = z1, z2, 0
    big_n = all1.shape[0]
    anchors = torch.cat([z1, z2])  # (2n, D)
    candidates = torch.cat([all1, all2])  # (2N, D)
    logits = anchors @ candidates.T / temperature  # (2n, 2N)
    local = torch.arange(n, device=z1.device) + offset
    self_idx = torch.cat([local, local + big_n])  # each anchor's own column
    pos_idx = torch.cat([local + big_n, local])  # the other view of the same image
    logits = logits.float()
    logits[torch.arange(2 * n, device=z1.device), self_idx] = float("-inf")
    return F.cross_entropy(logits, pos_idx)
