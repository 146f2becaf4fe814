"""Pictures of an image-text model: the image-caption similarity matrix, recall@k curves and
a grid of images with their generated captions."""

from __future__ import annotations

import textwrap
from pathlib import Path

import torch
import torch.nn.functional as F
from torch import Tensor

from .zeroshot import retrieval_ranks


def _pyplot():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def plot_similarity(image_embeddings: Tensor, text_embeddings: Tensor, captions: list[str], path: Path, n: int = 24) -> Path:
    """Cosine similarity of the first ``n`` images (rows) and their captions (columns): a good
    model has a bright diagonal."""
    plt = _pyplot()
    n = min(n, len(captions))
    sims = F.normalize(image_embeddings[:n], dim=-1) @ F.normalize(text_embeddings[:n], dim=-1).T
    fig, ax = plt.subplots(figsize=(0.35 * n + 4, 0.35 * n + 1.5))
    im = ax.imshow(sims.numpy(), cmap="viridis")
    ax.set_xticks(range(n), [c[:40] for c in captions[:n]], rotation=90, fontsize=6)
    ax.set_yticks(range(n), [f"image {i}" for i in range(n)], fontsize=6)
    ax.set_title("image-caption cosine similarity")
    fig.colorbar(im, ax=ax, fraction=0.03)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_recall(image_embeddings: Tensor, text_embeddings: Tensor, path: Path, groups: Tensor | None = None, max_k: int = 50) -> Path:
    """Recall@k for k = 1..max_k in both directions (``groups``: see :func:`retrieval_ranks`)."""
    plt = _pyplot()
    ks = torch.arange(1, min(max_k, len(image_embeddings)) + 1)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    for label, ranks in (("image -> text", retrieval_ranks(image_embeddings, text_embeddings, groups)), ("text -> image", retrieval_ranks(text_embeddings, image_embeddings, groups))):
        ax.plot(ks.numpy(), [100.0 * (ranks <= k).float().mean().item() for k in ks], label=label)
    ax.set(xlabel="k", ylabel="recall@k (%)", title=f"retrieval among {len(image_embeddings)} held-out pairs", ylim=(0, 100))
    ax.grid(alpha=0.3)
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def plot_captions(images: Tensor, captions: list[str], path: Path, cols: int = 4) -> Path:
    """uint8 images (N, C, H, W) with their generated captions as titles."""
    plt = _pyplot()
    rows = (len(captions) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(2.6 * cols, 2.9 * rows), squeeze=False)
    for ax in axes.flat:
        ax.axis("off")
    for ax, image, caption in zip(axes.flat, images, captions):
        pixels = image.permute(1, 2, 0).numpy()
        ax.imshow(pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray" if pixels.shape[-1] == 1 else None)
        ax.set_title("\n".join(textwrap.wrap(caption, 26)), fontsize=7)
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
