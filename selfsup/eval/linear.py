"""Offline linear probe: a linear classifier on frozen, standardised features."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..core.schedules import cosine


class LinearProbe(nn.Module):
    """A linear classifier on standardised features (standardised by its training set)."""

    def __init__(self, mean: Tensor, std: Tensor, num_classes: int) -> None:
        super().__init__()
        self.register_buffer("mean", mean)
        self.register_buffer("std", std)
        self.linear = nn.Linear(mean.shape[0], num_classes)

    def forward(self, feats: Tensor) -> Tensor:
        return self.linear((feats - self.mean) / self.std)

    @torch.no_grad()
    def accuracy(self, feats: Tensor, labels: Tensor) -> float:
        return 100.0 * (self(feats).argmax(1) == labels).float().mean().item()


def train_linear_probe(train_feats: Tensor, train_labels: Tensor, epochs: int = 100, lr: float = 0.1, batch_size: int = 256, seed: int = 0) -> LinearProbe:
    """A linear classifier trained with SGD + cosine LR on frozen features (N, D).

    Features are standardised with the training set's mean and std (a BatchNorm without
    affine, as in MAE's linear probe).
    """
    g = torch.Generator().manual_seed(seed)
    probe = LinearProbe(train_feats.mean(0), train_feats.std(0) + 1e-6, int(train_labels.max()) + 1)
    opt = torch.optim.SGD(probe.linear.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    steps_per_epoch = max(1, (len(train_feats) + batch_size - 1) // batch_size)
    total = epochs * steps_per_epoch
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(len(train_feats), generator=g)
        for start in range(0, len(train_feats), batch_size):
            idx = perm[start : start + batch_size]
            for group in opt.param_groups:
                group["lr"] = cosine(step, total, lr, 0.0)
            loss = F.cross_entropy(probe(train_feats[idx]), train_labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    return probe


def linear_probe_accuracy(
    train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, test_labels: Tensor, epochs: int = 100, lr: float = 0.1, batch_size: int = 256, seed: int = 0
) -> float:
    """Test accuracy (%) of :func:`train_linear_probe`."""
    return train_linear_probe(train_feats, train_labels, epochs, lr, batch_size, seed).accuracy(test_feats, test_labels)
