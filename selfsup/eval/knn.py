"""Weighted k-nearest-neighbour classification on cosine similarity (Wu et al. 2018, as in DINO)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


@torch.no_grad()
def knn_predict(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, k: int = 20, temperature: float = 0.07, chunk: int = 1024) -> Tensor:
    """Predicted labels (M,) for test features (M, D) from train features (N, D) and labels (N,).

    Each of the k nearest train samples votes for its class with weight exp(cos / temperature).
    """
    num_classes = int(train_labels.max()) + 1
    train = F.normalize(train_feats, dim=1)
    k = min(k, len(train))
    preds = []
    for start in range(0, len(test_feats), chunk):
        test = F.normalize(test_feats[start : start + chunk], dim=1)
        sim, idx = (test @ train.T).topk(k, dim=1)  # (m, k)
        weights = (sim / temperature).exp()
        votes = torch.zeros(len(test), num_classes, dtype=weights.dtype)
        votes.scatter_add_(1, train_labels[idx], weights)
        preds.append(votes.argmax(1))
    return torch.cat(preds)


def knn_accuracy(train_feats: Tensor, train_labels: Tensor, test_feats: Tensor, test_labels: Tensor, k: int = 20, temperature: float = 0.07) -> float:
    """Top-1 accuracy (%) of :func:`knn_predict`."""
    pred = knn_predict(train_feats, train_labels, test_feats, k, temperature)
    return 100.0 * (pred == test_labels).float().mean().item()
