"""BYOL's regression loss (Grill et al., 2020)."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def byol_loss(p: Tensor, z: Tensor) -> Tensor:
    """Mean of 2 - 2 cos(p, z) over the batch. p: online predictions (B, D); z: target projections (B, D).

    The caller passes the target without gradient (it comes from the EMA network).
    """
    return (2 - 2 * F.cosine_similarity(p, z, dim=-1)).mean()
