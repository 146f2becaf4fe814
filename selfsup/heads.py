"""Projection, prediction and DINO heads."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor


def mlp(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2) -> nn.Sequential:
    """(num_layers - 1) Linear-BN-ReLU blocks, then a Linear: (B, in_dim) -> (B, out_dim)."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_layers - 1):
        layers += [nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
        dim = hidden_dim
    layers.append(nn.Linear(dim, out_dim))
    return nn.Sequential(*layers)


def projection_head(in_dim: int, hidden_dim: int = 512, out_dim: int = 128) -> nn.Sequential:
    """SimCLR / BYOL projector: (B, in_dim) -> (B, out_dim)."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=2)


def prediction_head(dim: int, hidden_dim: int = 512) -> nn.Sequential:
    """BYOL predictor on the online side: (B, dim) -> (B, dim)."""
    return mlp(dim, hidden_dim, dim, num_layers=2)


class WeightNormLinear(nn.Module):
    """Linear layer without bias whose rows are ``g * v / ||v||`` (weight normalisation).

    With ``fix_norm`` the gains g stay 1 (DINO's ``norm_last_layer``), which keeps the head
    from growing one output's scale to win the softmax.
    """

    def __init__(self, in_dim: int, out_dim: int, fix_norm: bool = True) -> None:
        super().__init__()
        self.v = nn.Parameter(torch.empty(out_dim, in_dim))
        nn.init.trunc_normal_(self.v, std=0.02)
        self.g = nn.Parameter(torch.ones(out_dim, 1), requires_grad=not fix_norm)

    def forward(self, x: Tensor) -> Tensor:
        return F.linear(x, self.g * F.normalize(self.v, dim=1))


class DINOHead(nn.Module):
    """DINO / iBOT head: (B, in_dim) -> MLP (GELU, optional BatchNorm) -> bottleneck, L2-normalised
    -> weight-normalised linear -> (B, out_dim) logits over prototypes."""

    def __init__(self, in_dim: int, out_dim: int, hidden_dim: int = 2048, bottleneck_dim: int = 256, num_layers: int = 3, norm_last_layer: bool = True, use_bn: bool = False) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        dim = in_dim
        for _ in range(num_layers - 1):
            layers += [nn.Linear(dim, hidden_dim), *([nn.BatchNorm1d(hidden_dim)] if use_bn else []), nn.GELU()]
            dim = hidden_dim
        layers.append(nn.Linear(dim, bottleneck_dim))
        self.mlp = nn.Sequential(*layers)
        for m in self.mlp:
            if isinstance(m, nn.Linear):
                nn.init.trunc_normal_(m.weight, std=0.02)
                nn.init.zeros_(m.bias)
        self.last_layer = WeightNormLinear(bottleneck_dim, out_dim, fix_norm=norm_last_layer)

    def forward(self, x: Tensor) -> Tensor:
        return self.last_layer(F.normalize(self.mlp(x), dim=-1))
