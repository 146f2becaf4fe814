"""Node classification with few labels: a linear probe on frozen node embeddings, against a
supervised message-passing network trained on the same labels and against the raw features;
seeded splits, mean and std over seeds."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from ..eval.linear import linear_probe_accuracy, train_linear_probe
from .layers import GraphEncoder


def few_label_split(y: Tensor, per_class: int, seed: int) -> tuple[Tensor, Tensor]:
    """``per_class`` labelled nodes of each class (train) and every other labelled node (test)."""
    g = torch.Generator().manual_seed(seed)
    train = torch.cat([idx[torch.randperm(len(idx), generator=g)[:per_class]] for idx in ((y == c).nonzero()[:, 0] for c in range(int(y.max()) + 1))])
    test = torch.ones(len(y), dtype=torch.bool)
    test[train] = False
    test &= y >= 0
    return train, test.nonzero()[:, 0]


def probe_accuracy(features: Tensor, y: Tensor, per_class: int, seeds: int) -> tuple[float, float]:
    """Linear-probe test accuracy (%) on (N, D) node features: mean and std over seeded splits."""
    accs = torch.tensor([linear_probe_accuracy(features[tr], y[tr], features[te], y[te], 100, 0.1, seed=s) for s, (tr, te) in ((s, few_label_split(y, per_class, s)) for s in range(seeds))])
    return accs.mean().item(), accs.std().item() if seeds > 1 else 0.0


def supervised_accuracy(x: Tensor, edge_index: Tensor, y: Tensor, per_class: int, seeds: int, hidden: int = 128, epochs: int = 200) -> tuple[float, float]:
    """A two-layer :class:`GraphEncoder` (the SSL encoder's architecture) trained with
    cross-entropy on the same labelled nodes: mean and std test accuracy (%) over seeds."""
    accs = []
    for s in range(seeds):
        train, test = few_label_split(y, per_class, s)
        torch.manual_seed(s)
        model = GraphEncoder(x.shape[1], hidden, int(y.max()) + 1, 2)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2, weight_decay=5e-4)
        for _ in range(epochs):
            loss = F.cross_entropy(model(x, edge_index)[train], y[train])
            opt.zero_grad()
            loss.backward()
            opt.step()
        with torch.no_grad():
            accs.append(100.0 * (model(x, edge_index)[test].argmax(1) == y[test]).float().mean().item())
    t = torch.tensor(accs)
    return t.mean().item(), t.std().item() if seeds > 1 else 0.0


def predict_nodes(features: Tensor, y: Tensor, per_class: int, seed: int = 0) -> Tensor:
    """Every node's class from a linear probe trained on ``per_class`` labels per class: (N,)."""
    train, _ = few_label_split(y, per_class, seed)
    probe = train_linear_probe(features[train], y[train], 100, 0.1, seed=seed)
    with torch.no_grad():
        return probe(features).argmax(1)
