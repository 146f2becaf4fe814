"""Where a ViT looks: the last block's [CLS] attention per head, as image grids and as the
share of attention that falls on the object (for datasets with object masks, e.g. ``shapes``)."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..augment import eval_transform
from ..data import TensorImageDataset
from ..models.tokens import cls_attention, grid_size, require_vit


@torch.no_grad()
def attention_maps(encoder: nn.Module, images: Tensor, mean: tuple[float, ...], std: tuple[float, ...], batch_size: int = 256) -> Tensor:
    """uint8 images (B, C, H, W) -> [CLS] -> patch attention (B, heads, h, w), each map summing to 1."""
    vit = require_vit(encoder, "attention maps")
    was_training = vit.training
    vit.eval()
    maps = []
    for start in range(0, len(images), batch_size):
        x = eval_transform(images[start : start + batch_size], mean, std)
        attn = cls_attention(vit, x).float()  # (b, heads, N)
        attn = attn / attn.sum(-1, keepdim=True)
        maps.append(attn.view(*attn.shape[:2], *grid_size(vit, x)))
    vit.train(was_training)
    return torch.cat(maps)


def attention_in_mask(maps: Tensor, masks: Tensor) -> tuple[Tensor, Tensor]:
    """maps (B, heads, h, w), object masks (B, H, W) -> per image: the share of attention (mean over
    heads) on the object, and the object's area share (what uniform attention would score)."""
    area = F.adaptive_avg_pool2d((masks > 0).float()[:, None], maps.shape[-2:])[:, 0]  # (B, h, w) object share per patch
    inside = (maps.mean(1) * area).sum((-2, -1))
    return inside, area.mean((-2, -1))


def save_attention_grid(images: Tensor, maps: Tensor, path: Path, title: str = "") -> Path:
    """One row per image: the image, the head-mean map, then each head's map, upsampled to the image."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    b, heads = maps.shape[:2]
    up = F.interpolate(maps, size=images.shape[-2:], mode="nearest")  # (B, heads, H, W)
    cols = heads + 2
    fig, axes = plt.subplots(b, cols, figsize=(1.4 * cols, 1.4 * b), squeeze=False)
    for i in range(b):
        img = images[i].permute(1, 2, 0).numpy()
        panels = [(img if img.shape[-1] == 3 else img[..., 0], "image"), (up[i].mean(0).numpy(), "mean")]
        panels += [(up[i, h].numpy(), f"head {h}") for h in range(heads)]
        for ax, (panel, name) in zip(axes[i], panels):
            ax.imshow(panel, cmap=None if panel.ndim == 3 else ("gray" if name == "image" else "inferno"))
            ax.set_xticks([])
            ax.set_yticks([])
            if i == 0:
                ax.set_title(name, fontsize=8)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write_attention_report(encoder: nn.Module, dataset: TensorImageDataset, mean: tuple[float, ...], std: tuple[float, ...], out_dir: Path, num_images: int = 16, per_grid: int = 8) -> dict[str, float | list[str]]:
    """PNG grids for the first ``num_images`` images; with masks, the attention-on-object share
    over the whole dataset against its random (area) baseline."""
    out_dir = Path(out_dir)
    shown = dataset.images[:num_images]
    # With masks every image's map is needed for the share; the grids then take the first ones.
    maps = attention_maps(encoder, dataset.images if dataset.masks is not None else shown, mean, std)
    grids = [
        str(save_attention_grid(shown[s : s + per_grid], maps[s : s + per_grid], out_dir / f"attention_{s // per_grid:02d}.png", "last-block [CLS] attention"))
        for s in range(0, len(shown), per_grid)
    ]
    report: dict[str, float | list[str]] = {"grids": grids}
    if dataset.masks is not None:
        inside, area = attention_in_mask(maps, dataset.masks)
        report["attention_in_object"] = inside.mean().item()
        report["object_area"] = area.mean().item()
    return report
