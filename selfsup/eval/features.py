"""Frozen features of a dataset, computed batch by batch without augmentation."""

from __future__ import annotations

from collections.abc import Iterator

import torch
import torch.nn as nn
from torch import Tensor

from ..augment import eval_transform
from ..data import iterate_images


def iter_features(
    encoder: nn.Module,
    dataset,  # noqa: ANN001 - any dataset of selfsup.data
    mean: tuple[float, ...],
    std: tuple[float, ...],
    batch_size: int = 512,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    limit: int | None = None,
) -> Iterator[tuple[Tensor, Tensor]]:
    """Batch by batch: features (b, D) float32 on the CPU and labels (b,), at most ``limit`` images in all.

    Streamed datasets are read in chunks by ``num_workers`` loader workers (one centre crop each),
    so neither the images nor (for a caller that writes each chunk out) the features are all held.
    """
    was_training = encoder.training
    encoder.eval()
    try:
        for images, y in iterate_images(dataset, batch_size, num_workers, limit):
            with torch.no_grad():  # not held across the yield: the caller's grad mode stays its own
                feats = encoder(eval_transform(images.to(device), mean, std)).float().cpu()
            yield feats, y
    finally:
        encoder.train(was_training)


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
    """-> features (N, D) float32 on the CPU, labels (N,); N at most ``limit`` (:func:`iter_features`, gathered)."""
    feats, labels = zip(*iter_features(encoder, dataset, mean, std, batch_size, device, num_workers, limit))
    return torch.cat(feats), torch.cat(labels)
