"""KoLeo: the Kozachenko-Leonenko differential-entropy regulariser DINOv2 puts on [CLS] features."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def koleo_loss(x: Tensor, eps: float = 1e-8) -> Tensor:
    """x (B, D) -> -mean_i log(min_{j != i} ||x_i - x_j||) on L2-normalised rows; spreads the batch."""
    x = F.normalize(x.float(), dim=-1, eps=eps)
    with torch.no_grad():
        sim = x @ x.t()
        sim.fill_diagonal_(-2.0)
        nearest = sim.argmax(dim=1)  # (B,)
    dist = F.pairwise_distance(x, x[nearest], eps=eps)
    return -torch.log(dist + eps).mean()
