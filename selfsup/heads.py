"""Projection and prediction heads."""

from __future__ import annotations

import torch.nn as nn


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
