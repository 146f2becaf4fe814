"""Permutation-equivariant message passing, h_v' = act(W h_v + AGG_{u in N(v)} W' h_u), as a
thin layer on PyTorch Geometric's ``MessagePassing``; and, for the equivariance checker to
catch, an aggregator that depends on the order of the neighbours."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from torch_geometric.nn import MessagePassing

AGGREGATORS = ("sum", "mean", "max")


class MessagePassingLayer(MessagePassing):
    """x (N, in_dim), edge_index (2, E) source -> target -> (N, out_dim). The neighbour term
    transforms each neighbour (W' h_u) before aggregating it, so ``max`` is the max of the
    transformed messages; nodes without neighbours get 0 from it."""

    def __init__(self, in_dim: int, out_dim: int, aggr: str = "sum", act: bool = True) -> None:
        if aggr not in AGGREGATORS:
            raise ValueError(f"unknown aggregator '{aggr}'; valid: {', '.join(AGGREGATORS)}")
        super().__init__(aggr="add" if aggr == "sum" else aggr)
        self.root = nn.Linear(in_dim, out_dim)  # W
        self.neighbour = nn.Linear(in_dim, out_dim, bias=False)  # W'
        self.act = act

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        h = self.root(x) + self.propagate(edge_index, x=self.neighbour(x))
        return F.relu(h) if self.act else h

    def message(self, x_j: Tensor) -> Tensor:
        return x_j


class GraphEncoder(nn.Module):
    """Stacked message-passing layers: (N, in_dim) -> node embeddings (N, out_dim); the last
    layer has no activation."""

    def __init__(self, in_dim: int, hidden: int, out_dim: int, layers: int = 2, aggr: str = "sum") -> None:
        super().__init__()
        dims = [in_dim] + [hidden] * (layers - 1) + [out_dim]
        self.layers = nn.ModuleList([MessagePassingLayer(a, b, aggr, act=i < layers - 1) for i, (a, b) in enumerate(zip(dims[:-1], dims[1:]))])

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        for layer in self.layers:
            x = layer(x, edge_index)
        return x


class PositionWeightedSum(MessagePassingLayer):
    """NOT permutation-equivariant, on purpose: the k-th incoming message of a node is weighted
    by k, with neighbours ordered by their position in ``edge_index`` (``order="edge"``) or by
    their node id (``order="id"``). The checker must flag it."""

    def __init__(self, in_dim: int, out_dim: int, order: str = "edge") -> None:
        super().__init__(in_dim, out_dim, "sum", act=False)
        self.order = order

    def forward(self, x: Tensor, edge_index: Tensor) -> Tensor:
        src, dst = edge_index
        key = torch.arange(len(src), device=src.device) if self.order == "edge" else src
        order = torch.argsort(dst * (int(key.max()) + 1 if len(key) else 1) + key)  # by target, then by key
        rank = torch.empty_like(order)
        rank[order] = torch.arange(len(order), device=src.device)
        first = torch.zeros(x.shape[0] + 1, dtype=torch.long, device=src.device)
        first[1:] = torch.bincount(dst, minlength=x.shape[0]).cumsum(0)
        weight = (rank - first[dst] + 1).to(x.dtype)  # 1, 2, ... within each node's incoming edges
        messages = self.neighbour(x)[src] * weight[:, None]
        return self.root(x) + messages.new_zeros(x.shape[0], messages.shape[1]).index_add_(0, dst, messages)
