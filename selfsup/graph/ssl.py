"""Graph self-supervised learning with the image methods' own losses and EMA:
GRACE (Zhu et al., 2020) = SimCLR on nodes: two views by edge dropping and feature masking,
NT-Xent across the nodes of both views (``selfsup.losses.ntxent_loss``);
BGRL (Thakoor et al., ICLR 2022) = BYOL on nodes: online encoder + predictor, EMA target
(``selfsup.losses.byol_loss``, ``selfsup.core.ema.EMA``)."""

from __future__ import annotations

import copy

import torch
import torch.nn as nn
from torch import Tensor

from ..heads import prediction_head, projection_head
from ..losses import byol_loss, ntxent_loss
from ..core.ema import EMA
from .layers import GraphEncoder


def drop_edges(edge_index: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Each (directed) edge kept with probability 1 - p: (2, E) -> (2, E')."""
    return edge_index[:, torch.rand(edge_index.shape[1], generator=generator) >= p]


def mask_features(x: Tensor, p: float, generator: torch.Generator | None = None) -> Tensor:
    """Each feature dimension zeroed for every node with probability p."""
    return x * (torch.rand(x.shape[1], generator=generator) >= p).to(x.dtype)


class GraphSSL(nn.Module):
    """GRACE or BGRL around a :class:`GraphEncoder`; ``loss(x, edge_index)`` draws two views."""

    def __init__(self, method: str, in_dim: int, hidden: int = 128, out_dim: int = 64, drop_edge: tuple[float, float] = (0.2, 0.4), mask_feature: tuple[float, float] = (0.3, 0.4), temperature: float = 0.5, momentum: float = 0.99) -> None:
        super().__init__()
        if method not in ("grace", "bgrl"):
            raise ValueError(f"unknown graph method '{method}'; valid: grace, bgrl")
        self.method, self.drop_edge, self.mask_feature = method, drop_edge, mask_feature
        self.temperature, self.momentum = temperature, momentum
        self.encoder = GraphEncoder(in_dim, hidden, out_dim, 2)
        if method == "grace":
            self.head = projection_head(out_dim, hidden, out_dim)
        else:
            self.head = prediction_head(out_dim, hidden)
            self.target = copy.deepcopy(self.encoder)
            self.ema = EMA([(self.encoder, self.target)])

    def views(self, x: Tensor, edge_index: Tensor, g: torch.Generator | None = None) -> list[tuple[Tensor, Tensor]]:
        return [(mask_features(x, pf, g), drop_edges(edge_index, pe, g)) for pe, pf in zip(self.drop_edge, self.mask_feature)]

    def loss(self, x: Tensor, edge_index: Tensor, g: torch.Generator | None = None) -> Tensor:
        (x1, e1), (x2, e2) = self.views(x, edge_index, g)
        h1, h2 = self.encoder(x1, e1), self.encoder(x2, e2)  # (N, out_dim)
        if self.method == "grace":
            return ntxent_loss(self.head(h1), self.head(h2), self.temperature)
        with torch.no_grad():
            t1, t2 = self.target(x1, e1), self.target(x2, e2)
        return byol_loss(self.head(h1), t2) + byol_loss(self.head(h2), t1)

    def after_step(self) -> None:
        if self.method == "bgrl":
            self.ema.update(self.momentum)


def train_graph_ssl(model: GraphSSL, x: Tensor, edge_index: Tensor, epochs: int = 200, lr: float = 1e-3, seed: int = 0) -> list[float]:
    """Full-graph training; returns the loss per epoch."""
    g = torch.Generator().manual_seed(seed)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=1e-5)
    losses = []
    model.train()
    for _ in range(epochs):
        loss = model.loss(x, edge_index, g)
        opt.zero_grad()
        loss.backward()
        opt.step()
        model.after_step()
        losses.append(loss.item())
    return losses
