"""``shapes``: a procedural RGB dataset with class labels, per-pixel masks and captions.

Each image holds one shape (the class) of a colour and size, at a random position, on a
textured background. Everything is drawn from a seeded generator, so a seed gives the same
images every time. Masks mark the object's pixels (for dense probes and occlusion tests);
captions read "a small red triangle on a striped background" (for image-text learning).
"""

from __future__ import annotations

import numpy as np
import torch

from .base import TensorImageDataset

SHAPES = ("circle", "square", "triangle", "cross", "diamond")
COLOURS = {
    "red": (230, 40, 40),
    "green": (40, 200, 60),
    "blue": (50, 90, 240),
    "yellow": (240, 220, 40),
    "magenta": (220, 50, 220),
    "cyan": (40, 220, 230),
    "orange": (250, 140, 20),
    "white": (245, 245, 245),
}
SIZES = {"small": 0.16, "medium": 0.24, "large": 0.33}  # radius as a fraction of the image side
BACKGROUNDS = ("plain", "striped", "checkered", "noisy")


def _shape_mask(shape: str, dx: np.ndarray, dy: np.ndarray, r: float) -> np.ndarray:
    """Boolean (H, W) mask of ``shape`` with radius ``r``; dx, dy are offsets from its centre."""
    if shape == "circle":
        return dx**2 + dy**2 <= r**2
    if shape == "square":
        return np.maximum(abs(dx), abs(dy)) <= 0.8 * r
    if shape == "diamond":
        return abs(dx) + abs(dy) <= r
    if shape == "triangle":  # apex up; image y grows downwards
        return (dy >= -r) & (dy <= 0.5 * r) & (abs(dx) <= (dy + r) / np.sqrt(3))
    if shape == "cross":
        arm = r / 3
        return ((abs(dx) <= arm) & (abs(dy) <= r)) | ((abs(dy) <= arm) & (abs(dx) <= r))
    raise ValueError(f"unknown shape {shape!r}")


def _background(kind: str, size: int, rng: np.random.Generator) -> np.ndarray:
    """(H, W, 3) float background in [0, 255], dark enough for every shape colour to show."""
    base = rng.uniform(20, 90, size=3)
    other = np.clip(base + rng.uniform(-40, 40, size=3), 0, 110)
    y, x = np.mgrid[:size, :size]
    if kind == "plain":
        sel = np.zeros((size, size), bool)
    elif kind == "striped":
        period = rng.integers(3, 7)
        sel = ((x if rng.random() < 0.5 else y) // period) % 2 == 1
    elif kind == "checkered":
        period = rng.integers(3, 7)
        sel = ((x // period) + (y // period)) % 2 == 1
    else:  # noisy
        noise = rng.normal(0, 18, size=(size, size, 1))
        return np.clip(base + noise, 0, 255)
    return np.where(sel[..., None], other, base)


def generate_shapes(num_images: int, image_size: int = 32, seed: int = 0) -> dict:
    """Draw ``num_images`` images. Returns images (N, 3, S, S) uint8, labels, masks, captions, attributes."""
    rng = np.random.default_rng(seed)
    colour_names = list(COLOURS)
    size_names = list(SIZES)
    images = np.empty((num_images, image_size, image_size, 3), np.uint8)
    masks = np.empty((num_images, image_size, image_size), np.uint8)
    attrs = np.empty((num_images, 4), np.int64)  # shape, colour, size, background
    captions = []
    y, x = np.mgrid[:image_size, :image_size].astype(np.float64)
    for i in range(num_images):
        s, c, z, b = (rng.integers(len(SHAPES)), rng.integers(len(COLOURS)), rng.integers(len(SIZES)), rng.integers(len(BACKGROUNDS)))
        r = SIZES[size_names[z]] * image_size * rng.uniform(0.9, 1.1)
        cx, cy = rng.uniform(r, image_size - 1 - r, size=2)
        mask = _shape_mask(SHAPES[s], x - cx, y - cy, r)
        colour = np.clip(np.array(COLOURS[colour_names[c]]) + rng.normal(0, 8, size=3), 0, 255)
        img = _background(BACKGROUNDS[b], image_size, rng)
        img[mask] = colour
        images[i] = np.round(img).astype(np.uint8)
        masks[i] = mask
        attrs[i] = (s, c, z, b)
        captions.append(f"a {size_names[z]} {colour_names[c]} {SHAPES[s]} on a {BACKGROUNDS[b]} background")
    return {
        "images": torch.from_numpy(images).permute(0, 3, 1, 2).contiguous(),
        "labels": torch.from_numpy(attrs[:, 0].copy()),
        "masks": torch.from_numpy(masks),
        "captions": captions,
        "attributes": torch.from_numpy(attrs),
    }


def shapes(train: bool, num_images: int = 5000, image_size: int = 32, test_fraction: float = 0.2, seed: int = 0) -> TensorImageDataset:
    """The train or test part of a seeded ``shapes`` draw (the split is seeded too)."""
    d = generate_shapes(num_images, image_size, seed)
    n_test = int(round(num_images * test_fraction))
    perm = torch.from_numpy(np.random.default_rng(seed + 1).permutation(num_images))
    idx = perm[n_test:] if train else perm[:n_test]
    full = TensorImageDataset(d["images"], d["labels"], d["masks"], d["captions"], class_names=list(SHAPES), attributes=d["attributes"])
    return full.subset(idx)
