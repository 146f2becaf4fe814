"""Datasets: each yields uint8 images (C, H, W) and integer labels (-1 when unlabelled)."""

from __future__ import annotations

import numpy as np
import torch

from ..config import DataConfig
from .base import DataError, TensorImageDataset, channel_stats, make_loader
from .builtin import digits, mnist
from .caption_csv import caption_csv
from .files import cifar10, folder, stl10
from .shapes import generate_shapes, shapes

DATASETS = ("mnist", "digits", "shapes", "cifar10", "stl10", "folder", "csv")

__all__ = ["DATASETS", "DataError", "TensorImageDataset", "build_dataset", "channel_stats", "generate_shapes", "make_loader"]


def _seeded_split(ds: TensorImageDataset, train: bool, test_fraction: float, seed: int) -> TensorImageDataset:
    n_test = int(round(len(ds) * test_fraction))
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(ds)))
    part = ds.subset(perm[n_test:] if train else perm[:n_test])
    part.skipped = ds.skipped
    return part


def build_dataset(cfg: DataConfig, train: bool) -> TensorImageDataset:
    """The train or the held-out part of the dataset ``cfg.name``."""
    name = cfg.name
    if name == "mnist":
        return mnist(train)
    if name == "digits":
        return digits(train, cfg.image_size, cfg.test_fraction, cfg.seed)
    if name == "shapes":
        return shapes(train, cfg.num_images, cfg.image_size, cfg.test_fraction, cfg.seed)
    if name == "cifar10":
        return cifar10(cfg.path, train)
    if name == "stl10":
        return stl10(cfg.path, "train" if train else "test")
    if name == "folder":
        return _seeded_split(folder(cfg.path, cfg.image_size, cfg.skip_bad), train, cfg.test_fraction, cfg.seed)
    if name == "csv":
        ds = caption_csv(cfg.path, cfg.image_size, cfg.csv_img_key, cfg.csv_caption_key, cfg.csv_separator, cfg.skip_bad)
        return _seeded_split(ds, train, cfg.test_fraction, cfg.seed)
    raise DataError(f"unknown dataset '{name}'; valid datasets: {', '.join(DATASETS)}")
