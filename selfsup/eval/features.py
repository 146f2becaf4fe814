"""Frozen features of a dataset, computed batch by batch without augmentation."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

from ..augment import eval_transform
from ..data import TensorImageDataset


@torch.no_grad()
def extract_features(
    encoder: nn.Module, dataset: TensorImageDataset, mean: tuple[float, ...], std: tuple[float, ...], batch_size: int = 512, device: torch.device | str = "cpu"
) -> tuple[Tensor, Tensor]:
    """-> features (N, D) float32 on the CPU, labels (N,)."""
    was_training = encoder.training
    encoder.eval()
    feats = []
    for start in range(0, len(dataset), batch_size):
        images = dataset.images[start : start + batch_size].to(device)
        feats.append(encoder(eval_transform(images, mean, std)).float().cpu())
    encoder.train(was_training)
    return torch.cat(feats), dataset.labels.clone()
