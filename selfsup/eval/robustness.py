"""Occlusion and noise robustness of frozen features.

The kNN bank and the linear probe come from clean training images; the test images are
corrupted: a fraction of their patches blanked to the dataset's mean colour (patches chosen at
random, or those covering most of the object when the dataset has masks), or Gaussian pixel
noise. Blanked sets are nested: the 50 % patches include the 25 % ones.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import torch
import torch.nn as nn
from torch import Tensor

from ..data import TensorImageDataset
from ..models.tokens import is_vit
from .features import extract_features
from .knn import knn_accuracy
from .linear import train_linear_probe

OCCLUSION_FRACTIONS = (0.0, 0.25, 0.5, 0.75)
NOISE_SIGMAS = (0.0, 0.1, 0.2, 0.4)  # on the [0, 1] pixel scale


def occlusion_grid(encoder: nn.Module, image_size: int, default: int = 8) -> int:
    """Patches per side to blank: a ViT's own patch grid, else ``default``."""
    return image_size // encoder.patch_embed.patch_size[0] if is_vit(encoder) else default


def blank_order(n_images: int, grid: int, masks: Tensor | None, where: str, generator: torch.Generator) -> Tensor:
    """(n_images, grid * grid) patch indices in the order they are blanked.

    ``random``: a random permutation; ``object``: patches by how much of the object mask
    (N, H, W) they cover, most first, ties broken at random.
    """
    noise = torch.rand(n_images, grid * grid, generator=generator)
    if where == "random":
        return noise.argsort(dim=1)
    if where != "object":
        raise ValueError(f"unknown occlusion '{where}'; valid: random, object")
    if masks is None:
        raise ValueError("occluding the object needs per-pixel masks (data.name=shapes)")
    side = masks.shape[-1] // grid
    cover = masks.float().view(n_images, grid, side, grid, side).mean(dim=(2, 4)).flatten(1)  # (N, grid * grid)
    return (cover + 1e-3 * noise).argsort(dim=1, descending=True)


def occlude(images: Tensor, order: Tensor, fraction: float, grid: int, fill: Tensor) -> Tensor:
    """uint8 images (N, C, H, W) with the first ``fraction`` of ``order``'s patches set to ``fill`` (C,)."""
    n_blank = round(fraction * order.shape[1])
    if n_blank == 0:
        return images
    n, c, h, w = images.shape
    blank = torch.zeros(n, grid * grid, dtype=torch.bool).scatter_(1, order[:, :n_blank], True)
    pixel_mask = blank.view(n, 1, grid, 1, grid, 1).expand(n, 1, grid, h // grid, grid, w // grid).reshape(n, 1, h, w)
    return torch.where(pixel_mask, fill.view(1, c, 1, 1).to(images.dtype), images)


def add_noise(images: Tensor, sigma: float, generator: torch.Generator) -> Tensor:
    """uint8 images plus Gaussian noise of std ``sigma`` (pixel scale [0, 1]), clipped and re-quantised."""
    noisy = images.float() / 255 + sigma * torch.randn(images.shape, generator=generator)
    return (noisy.clamp(0, 1) * 255).round().to(torch.uint8)


def robustness(
    encoder: nn.Module,
    train_set: TensorImageDataset,
    test_set: TensorImageDataset,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    grid: int,
    knn_k: int = 20,
    knn_temperature: float = 0.07,
    linear_epochs: int = 100,
    seed: int = 0,
) -> dict[str, dict[str, dict[str, float]]]:
    """kNN and linear accuracy (%) on corrupted test images:
    ``{"occlusion_random" | "occlusion_object" | "noise": {level: {"knn": .., "linear": ..}}}``.

    ``grid``: patches per side (a ViT's patch grid); the image side must be a multiple of it.
    """
    if test_set.image_size % grid:
        raise ValueError(f"image size {test_set.image_size} is not a multiple of the {grid} x {grid} occlusion grid")
    ftr, ytr = extract_features(encoder, train_set, mean, std)
    probe = train_linear_probe(ftr, ytr, epochs=linear_epochs, seed=seed)
    fill = torch.tensor([round(255 * m) for m in mean], dtype=torch.uint8)
    g = torch.Generator().manual_seed(seed)

    def scores(images: Tensor) -> dict[str, float]:
        corrupted = TensorImageDataset(images, test_set.labels)
        fte, yte = extract_features(encoder, corrupted, mean, std)
        return {"knn": knn_accuracy(ftr, ytr, fte, yte, knn_k, knn_temperature), "linear": probe.accuracy(fte, yte)}

    out: dict[str, dict[str, dict[str, float]]] = {}
    wheres = ["random"] + (["object"] if test_set.masks is not None else [])
    for where in wheres:
        order = blank_order(len(test_set), grid, test_set.masks, where, g)
        out[f"occlusion_{where}"] = {str(f): scores(occlude(test_set.images, order, f, grid, fill)) for f in OCCLUSION_FRACTIONS}
    out["noise"] = {str(s): scores(add_noise(test_set.images, s, g)) for s in NOISE_SIGMAS}
    return out


def plot_robustness(results: dict[str, dict[str, dict[str, float]]], path: str | Path, title: str = "") -> Path:
    """Accuracy against the blanked fraction (left) and against the noise level (right)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10, 4), sharey=True)
    for key, colour in (("occlusion_random", "C0"), ("occlusion_object", "C3")):
        for probe, style in (("knn", "-o"), ("linear", "--s")):
            levels = list(results.get(key, {}))
            left.plot([100 * float(x) for x in levels], [results[key][x][probe] for x in levels], style, color=colour, label=f"{probe}, {key.split('_')[1]} patches")
    for probe, style in (("knn", "-o"), ("linear", "--s")):
        levels = list(results["noise"])
        right.plot([float(x) for x in levels], [results["noise"][x][probe] for x in levels], style, label=probe)
    left.set(xlabel="patches blanked (%)", ylabel="test accuracy (%)", title="occlusion")
    right.set(xlabel="Gaussian noise std (pixel scale 0-1)", title="noise")
    for ax in (left, right):
        ax.grid(alpha=0.3)
        ax.legend(fontsize=8)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    path = Path(path)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path
