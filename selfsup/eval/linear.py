"""Offline linear probe: a linear classifier on frozen, standardised features."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..train.schedules import cosine


def linear_probe_accuracy(
    train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, test_labels: Tensor, epochs: int = 100, lr: float = 0.1, batch_size: int = 256, seed: int = 0
) -> float:
    """Test accuracy (%) of a linear classifier trained with SGD + cosine LR on frozen features.

    Features are standardised with the training set's mean and std (a BatchNorm without
    affine, as in MAE's linear probe).
    """
    g = torch.Generator().manual_seed(seed)
    mean, std = train_feats.mean(0), train_feats.std(0) + 1e-6
    xtr, xte = (train_feats - mean) / std, (test_feats - mean) / std
    num_classes = int(train_labels.max()) + 1
    clf = nn.Linear(xtr.shape[1], num_classes)
    opt = torch.optim.SGD(clf.parameters(), lr=lr, momentum=0.9, weight_decay=1e-4)
    steps_per_epoch = max(1, (len(xtr) + batch_size - 1) // batch_size)
    total = epochs * steps_per_epoch
    step = 0
    for _ in range(epochs):
        perm = torch.randperm(len(xtr), generator=g)
        for start in range(0, len(xtr), batch_size):
            idx = perm[start : start + batch_size]
            for group in opt.param_groups:
                group["lr"] = cosine(step, total, lr, 0.0)
            loss = F.cross_entropy(clf(xtr[idx]), train_labels[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            step += 1
    with torch.no_grad():
        return 100.0 * (clf(xte).argmax(1) == test_labels).float().mean().item()
