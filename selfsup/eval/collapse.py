"""Collapse monitors for embeddings."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def embedding_std(feats: Tensor) -> float:
    """Mean over dimensions of the std of L2-normalised embeddings (N, D).

    Complete collapse gives 0; embeddings spread evenly on the sphere give about 1/sqrt(D).
    """
    return F.normalize(feats.float(), dim=1).std(0).mean().item()


def rankme(feats: Tensor, eps: float = 1e-7) -> float:
    """RankMe (Garrido et al., 2023): exp of the entropy of the normalised singular values of (N, D)."""
    s = torch.linalg.svdvals(feats.float())
    p = s / (s.sum() + eps) + eps
    return torch.exp(-(p * p.log()).sum()).item()
