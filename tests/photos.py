"""Small real-photo JPEG folders for the streaming tests: crops of the photos scikit-learn ships."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image
from sklearn.datasets import load_sample_images


def photo_folder(root: Path, per_class: int = 6, classes: int = 2, size: tuple[int, int] = (80, 60), seed: int = 0) -> Path:
    """``classes`` subfolders of ``per_class`` JPEGs (q90) at ``size`` (width, height), class c cut from photo c."""
    photos = load_sample_images().images  # china.jpg, flower.jpg: (427, 640, 3)
    rng = np.random.default_rng(seed)
    for c in range(classes):
        folder = root / f"class{c}"
        folder.mkdir(parents=True, exist_ok=True)
        photo = photos[c % len(photos)]
        for i in range(per_class):
            h, w = rng.integers(200, 400), rng.integers(260, 600)
            y, x = rng.integers(0, photo.shape[0] - h + 1), rng.integers(0, photo.shape[1] - w + 1)
            Image.fromarray(photo[y : y + h, x : x + w]).resize(size, Image.BICUBIC).save(folder / f"{i:03d}.jpg", quality=90)
    return root
