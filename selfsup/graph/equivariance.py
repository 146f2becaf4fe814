"""An equivariance checker for graph models: relabel the nodes (X -> P X, A -> P A P^T, the
edge list relabelled) and check that node outputs move the same way and graph read-outs do
not change; shuffle the edge list and check that nothing changes."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
import torch.nn as nn
from torch import Tensor

Model = Callable[[Tensor, Tensor], Tensor]


@torch.no_grad()
def check_equivariance(model: nn.Module | Model, x: Tensor, edge_index: Tensor, trials: int = 5, seed: int = 0) -> dict[str, float]:
    """Worst absolute deviation over ``trials`` random permutations, per check (a module runs
    on a float64 copy, so that summation order leaves ~1e-15, not float32's ~1e-5):

    - ``node_equivariance``: f(P X, P A P^T) against P f(X, A), node by node;
    - ``graph_invariance``: the sum and the mean read-out of f under the same relabelling;
    - ``edge_order_invariance``: f(X, A) with the edge list shuffled against f(X, A).
    """
    if isinstance(model, nn.Module):
        model = copy.deepcopy(model).double().eval()
        x = x.double()
    g = torch.Generator().manual_seed(seed)
    base = model(x, edge_index)  # (N, D)
    worst = {"node_equivariance": 0.0, "graph_invariance": 0.0, "edge_order_invariance": 0.0}
    n = x.shape[0]
    for _ in range(trials):
        perm = torch.randperm(n, generator=g)  # new node i is old node perm[i]
        new_id = torch.empty_like(perm)
        new_id[perm] = torch.arange(n)
        out = model(x[perm], new_id[edge_index])
        worst["node_equivariance"] = max(worst["node_equivariance"], (out - base[perm]).abs().max().item())
        readout = max((out.sum(0) - base.sum(0)).abs().max().item(), (out.mean(0) - base.mean(0)).abs().max().item())
        worst["graph_invariance"] = max(worst["graph_invariance"], readout)
        shuffled = edge_index[:, torch.randperm(edge_index.shape[1], generator=g)]
        worst["edge_order_invariance"] = max(worst["edge_order_invariance"], (model(x, shuffled) - base).abs().max().item())
    return worst
