"""Dense (patch-level) linear probe: a linear classifier on each frozen patch token, trained to
segment ``shapes`` images (background + one class per shape) and scored by mIoU.

The probe's patch logits are upsampled bilinearly to pixels, as linear segmentation probes on
ViT features do (e.g. DINOv2's linear head), so the score is per pixel against the true masks.
"""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..augment import eval_transform
from ..data import TensorImageDataset
from ..models.tokens import forward_tokens, grid_size, patch_tokens, require_vit


def pixel_labels(dataset: TensorImageDataset) -> Tensor:
    """(N, H, W) long: 0 for background, 1 + the image's class inside its object mask."""
    if dataset.masks is None:
        raise ValueError("the dense probe needs per-pixel object masks; the built-in `shapes` dataset has them (data.name=shapes)")
    return dataset.masks.long().clamp(max=1) * (dataset.labels.view(-1, 1, 1) + 1)


@torch.no_grad()
def patch_features(encoder: nn.Module, dataset: TensorImageDataset, mean: tuple[float, ...], std: tuple[float, ...], batch_size: int = 256, device: torch.device | str = "cpu") -> Tensor:
    """Frozen patch tokens of a ViT encoder: (N, D, h, w) float32 on the CPU."""
    vit = require_vit(encoder, "the dense probe")
    was_training = vit.training
    vit.eval()
    out = []
    for start in range(0, len(dataset), batch_size):
        x = eval_transform(dataset.images[start : start + batch_size].to(device), mean, std)
        h, w = grid_size(vit, x)
        tokens = patch_tokens(vit, forward_tokens(vit, x)).float()  # (B, h * w, D)
        out.append(tokens.transpose(1, 2).reshape(len(x), -1, h, w).cpu())
    vit.train(was_training)
    return torch.cat(out)


def confusion_iou(pred: Tensor, target: Tensor, num_classes: int) -> Tensor:
    """Per-class IoU (C,) of label maps ``pred`` and ``target`` (any equal shapes); NaN for a class
    absent from both."""
    conf = torch.bincount(target.flatten() * num_classes + pred.flatten(), minlength=num_classes**2).view(num_classes, num_classes).double()
    tp = conf.diag()
    union = conf.sum(0) + conf.sum(1) - tp
    return torch.where(union > 0, tp / union.clamp_min(1), torch.full_like(tp, float("nan")))


def dense_probe(
    encoder: nn.Module,
    train_set: TensorImageDataset,
    test_set: TensorImageDataset,
    mean: tuple[float, ...],
    std: tuple[float, ...],
    epochs: int = 10,
    lr: float = 1e-2,
    batch_size: int = 64,
    seed: int = 0,
    device: torch.device | str = "cpu",
) -> dict[str, float | list[float]]:
    """Train the per-patch linear classifier (Adam on standardised features) on the
    train set's masks; return test ``miou`` (%), per-class ``iou`` (%) and ``pixel_acc`` (%)."""
    ytr, yte = pixel_labels(train_set), pixel_labels(test_set)
    num_classes = int(max(ytr.max(), yte.max())) + 1
    ftr = patch_features(encoder, train_set, mean, std, device=device)  # (N, D, h, w)
    fte = patch_features(encoder, test_set, mean, std, device=device)
    mu, sd = ftr.mean(dim=(0, 2, 3), keepdim=True), ftr.std(dim=(0, 2, 3), keepdim=True) + 1e-6
    ftr, fte = (ftr - mu) / sd, (fte - mu) / sd
    size = ytr.shape[-2:]
    g = torch.Generator().manual_seed(seed)
    clf = nn.Conv2d(ftr.shape[1], num_classes, kernel_size=1)  # the same linear map at every patch
    opt = torch.optim.Adam(clf.parameters(), lr=lr)

    def logits(feats: Tensor) -> Tensor:
        return F.interpolate(clf(feats), size=size, mode="bilinear", align_corners=False)  # (B, C, H, W)

    for _ in range(epochs):
        perm = torch.randperm(len(ftr), generator=g)
        for start in range(0, len(ftr), batch_size):
            idx = perm[start : start + batch_size]
            loss = F.cross_entropy(logits(ftr[idx]), ytr[idx])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
    with torch.no_grad():
        pred = torch.cat([logits(fte[s : s + 256]).argmax(1) for s in range(0, len(fte), 256)])
    iou = confusion_iou(pred, yte, num_classes)
    return {"miou": 100.0 * float(iou.nanmean()), "iou": [100.0 * float(v) for v in iou], "pixel_acc": 100.0 * float((pred == yte).float().mean())}
