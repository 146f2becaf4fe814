"""Crops from the original photo, made in loader workers: each view is a RandomResizedCrop of the
decoded image at its own aspect ratio, resized with an antialiased filter to the view's side.

Boxes are drawn from the image header first, so the JPEG decoder can skip resolution no view
needs (DCT scaling, :func:`selfsup.data.decode.decode`). Resizing is torch's antialiased
bilinear on uint8 (the filter torchvision's ``Resize`` uses; about 2.5x faster than PIL's on
one core), so shrinking a 500 px photo into a 96 px view does not alias. Photometric
augmentation stays batched on the training device (:class:`selfsup.augment.MultiCropAugment`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from .decode import decode, image_size

Box = tuple[int, int, int, int]  # x, y, width, height in full-resolution pixels
EVAL_CROP_FRACTION = 0.875  # evaluation: resize the short side to size / 0.875, centre crop (timm's crop_pct, DINO's 256 -> 224)


@dataclass(frozen=True)
class ViewSpec:
    """One view: its side in pixels and RandomResizedCrop's area ``scale`` and aspect ``ratio`` ranges."""

    size: int
    scale: tuple[float, float]
    ratio: tuple[float, float] = (3 / 4, 4 / 3)


def random_box(width: int, height: int, scale: tuple[float, float], ratio: tuple[float, float]) -> Box:
    """torchvision's RandomResizedCrop box, drawn with torch's global RNG (seeded per loader worker)."""
    area = width * height
    log_lo, log_hi = math.log(ratio[0]), math.log(ratio[1])
    for _ in range(10):
        u = torch.rand(4).tolist()
        target = area * (scale[0] + u[0] * (scale[1] - scale[0]))
        aspect = math.exp(log_lo + u[1] * (log_hi - log_lo))
        w, h = round(math.sqrt(target * aspect)), round(math.sqrt(target / aspect))
        if 0 < w <= width and 0 < h <= height:
            return int(u[2] * (width - w + 1)), int(u[3] * (height - h + 1)), w, h
    aspect = width / height  # fallback: the central crop at the nearest allowed aspect
    if aspect < ratio[0]:
        w, h = width, round(width / ratio[0])
    elif aspect > ratio[1]:
        w, h = round(height * ratio[1]), height
    else:
        w, h = width, height
    return (width - w) // 2, (height - h) // 2, w, h


def centre_box(width: int, height: int, size: int) -> Box:
    """The evaluation box: the central square that becomes ``size`` px after resizing the short side to size / 0.875."""
    side = min(width, height) * EVAL_CROP_FRACTION
    side = max(1, round(side))
    return (width - side) // 2, (height - side) // 2, side, side


def resize_crop(image: Tensor, box: Box, scale: float, size: int) -> Tensor:
    """Crop ``box`` (full-resolution pixels) out of ``image`` (C, h, w) uint8 decoded at ``scale`` of
    full size, and resize it to (C, size, size) with antialiased bilinear filtering."""
    x, y, w, h = (round(v * scale) for v in box)
    _, ih, iw = image.shape
    x, y = min(x, iw - 1), min(y, ih - 1)
    w, h = max(1, min(w, iw - x)), max(1, min(h, ih - y))
    crop = image[None, :, y : y + h, x : x + w]
    return F.interpolate(crop, size=(size, size), mode="bilinear", antialias=True, align_corners=False)[0]


def _decode_for(data: bytes, name: str, channels: int, boxes: list[Box], sizes: list[int], width: int) -> tuple[Tensor, float]:
    """Decode at the smallest power-of-two reduction at which every box still has >= its view's pixels."""
    reduction = min(min(b[2], b[3]) / s for b, s in zip(boxes, sizes))
    image = decode(data, name, channels, reduction)
    return image, image.shape[-1] / width


class MultiCropViews:
    """Bytes of one image -> its views, uint8: ``len(specs)`` tensors (C, size, size), each its own box."""

    def __init__(self, specs: list[ViewSpec], hflip: bool, channels: int = 3) -> None:
        self.specs = specs
        self.hflip = hflip
        self.channels = channels

    def __call__(self, data: bytes, name: str) -> list[Tensor]:
        width, height = image_size(data, name)
        boxes = [random_box(width, height, s.scale, s.ratio) for s in self.specs]
        sizes = [s.size for s in self.specs]
        image, scale = _decode_for(data, name, self.channels, boxes, sizes, width)
        views = [resize_crop(image, b, scale, s) for b, s in zip(boxes, sizes)]
        if self.hflip:
            flips = torch.rand(len(views)).tolist()
            views = [v.flip(-1) if f < 0.5 else v for v, f in zip(views, flips)]
        return views


class CentreCrop:
    """Bytes of one image -> one (C, size, size) uint8 evaluation view (short side to size / 0.875, centre crop)."""

    def __init__(self, size: int, channels: int = 3) -> None:
        self.size = size
        self.channels = channels

    def __call__(self, data: bytes, name: str) -> list[Tensor]:
        width, height = image_size(data, name)
        box = centre_box(width, height, self.size)
        image, scale = _decode_for(data, name, self.channels, [box], [self.size], width)
        return [resize_crop(image, box, scale, self.size)]
