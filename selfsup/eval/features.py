"""Frozen features of a dataset, computed batch by batch without augmentation."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..augment import eval_transform
from ..data import iterate_images


@torch.no_grad()
def extract_features(
    encoder: nn.Module,
    dataset,  # noqa: ANN001 - any dataset of selfsup.data
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    limit: int | None = None,
) -> tuple[Tensor, Tensor]:
    """-> features (N, D) float32 on the CPU, labels (N,); N at most ``limit``.

    Streamed datasets are read in chunks by ``num_workers`` loader workers (one centre crop each),
    so only the features are ever held, never the images.
    """
    was_training = encoder.training
    encoder.eval()
    feats, labels = [], []
    for images, y in iterate_images(dataset, batch_size, num_workers, limit):
        feats.append(encoder(eval_transform(images.to(device), mean, std)).float().cpu())
        labels.append(y)
    encoder.train(was_training)
    return torch.cat(feats), torch.cat(labels)
