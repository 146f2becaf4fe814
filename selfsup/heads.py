"""Projection and prediction heads."""

from __future__ import annotations

import torch.nn as nn


def mlp(in_dim: int, hidden_dim: int, out_dim: int, num_layers: int = 2, last_bn: bool = False) -> nn.Sequential:
    """Linear-BN-ReLU blocks then a Linear (optionally a final BN without affine, as SimCLR v2)."""
    layers: list[nn.Module] = []
    dim = in_dim
    for _ in range(num_layers - 1):
        layers += [nn.Linear(dim, hidden_dim, bias=False), nn.BatchNorm1d(hidden_dim), nn.ReLU(inplace=True)]
        dim = hidden_dim
    layers.append(nn.Linear(dim, out_dim, bias=not last_bn))
    if last_bn:
        layers.append(nn.BatchNorm1d(out_dim, affine=False))
    return nn.Sequential(*layers)


def projection_head(in_dim: int, hidden_dim: int = 512, out_dim: int = 128) -> nn.Sequential:
    """SimCLR / BYOL projector: (B, in_dim) -> (B, out_dim)."""
    return mlp(in_dim, hidden_dim, out_dim, num_layers=2)


def prediction_head(dim: int, hidden_dim: int = 512) -> nn.Sequential:
    """BYOL predictor on the online side: (B, dim) -> (B, dim)."""
    return mlp(dim, hidden_dim, dim, num_layers=2)
