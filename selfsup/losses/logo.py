"""LoGo's local-local repulsion (Zhang et al., CVPR 2022): a learned affinity between local
views, and the clip that keeps the repulsion's gradient a bounded fraction of the attraction's."""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch.func import functional_call


class AffinityRegressor(nn.Module):
    """f(z1, z2) -> affinity (B,) >= 0 (softplus): an MLP on the concatenated pair, averaged over
    both orders so it is symmetric. Trained to score local views of one image above local views
    of different images (it maximises :func:`affinity_gap`)."""

    def __init__(self, dim: int, hidden: int = 512) -> None:
        super().__init__()
        self.mlp = nn.Sequential(nn.Linear(2 * dim, hidden), nn.ReLU(inplace=True), nn.Linear(hidden, 1))

    def forward(self, z1: Tensor, z2: Tensor) -> Tensor:
        pairs = torch.cat([torch.cat([z1, z2], dim=1), torch.cat([z2, z1], dim=1)])  # (2B, 2D)
        return F.softplus(self.mlp(pairs)).view(2, -1).mean(0)

    def frozen(self, z1: Tensor, z2: Tensor) -> Tensor:
        """The same function with its parameters detached: the encoder's repulsion moves the
        embeddings, never the regressor."""
        params = {k: v.detach() for k, v in self.named_parameters()}
        return functional_call(self, params, (z1, z2))


def affinity_gap(affinity: Callable[[Tensor, Tensor], Tensor], z1: Tensor, z2: Tensor) -> Tensor:
    """omega = mean affinity of same-image local pairs (z1[i], z2[i]) - mean affinity of pairs
    from different images (z1[i], z2[i - 1]); z1, z2 (B, D).

    The regressor maximises it (on detached embeddings); the encoder's repulsion minimises it
    through the frozen regressor. Lowering every affinity at once leaves the gap unchanged, so
    the encoder cannot satisfy the repulsion by collapsing into a region of low affinity.
    """
    return affinity(z1, z2).mean() - affinity(z1, z2.roll(1, dims=0)).mean()


def clip_repulsion(attract: Tensor, repel: Tensor, z: Tensor, ratio: float) -> tuple[Tensor, Tensor]:
    """Scale ``repel`` so its gradient at the embeddings ``z`` has at most ``ratio`` times the norm
    of ``attract``'s gradient there. Returns (scaled repulsion, the scale in [0, 1], detached)."""
    (g_att,) = torch.autograd.grad(attract, z, retain_graph=True)
    (g_rep,) = torch.autograd.grad(repel, z, retain_graph=True)
    scale = (ratio * g_att.norm() / g_rep.norm().clamp_min(1e-12)).clamp(max=1.0).detach()
    return scale * repel, scale
