"""Batched image operations with per-image random parameters, on the images' device.

All take float images in [0, 1] of shape (B, C, H, W) and return the same shape (crops
return the output size). Those named with a trailing underscore change their input in place
and return it: only the images chosen are read, computed and written back. Parameters are
drawn with torch's RNG on the images' device, so checkpoints that save the RNG state resume
the same views.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

# ITU-R 601 luma weights and the RGB <-> YIQ matrices used for hue rotation.
LUMA = (0.299, 0.587, 0.114)
_RGB_TO_YIQ = ((0.299, 0.587, 0.114), (0.596, -0.274, -0.322), (0.211, -0.523, 0.312))


def _uniform(n: int, low: float, high: float, device: torch.device) -> Tensor:
    return torch.rand(n, device=device) * (high - low) + low


def random_resized_crop(x: Tensor, size: int, scale: tuple[float, float], hflip: bool, ratio: tuple[float, float] = (3 / 4, 4 / 3)) -> Tensor:
    """Crop a random area fraction in ``scale`` with aspect in ``ratio``, resize to ``size``, flip half if ``hflip``.

    One ``grid_sample`` does crop, resize and flip for the whole batch: (B, C, H, W) -> (B, C, size, size).
    """
    b, device = x.shape[0], x.device
    area = _uniform(b, *scale, device)
    log_r = _uniform(b, math.log(ratio[0]), math.log(ratio[1]), device)
    aspect = torch.exp(log_r)
    w = torch.sqrt(area * aspect).clamp(max=1.0)  # width as a fraction of the image width
    h = torch.sqrt(area / aspect).clamp(max=1.0)
    cx = (torch.rand(b, device=device) * 2 - 1) * (1 - w)  # centre in [-1, 1] coordinates
    cy = (torch.rand(b, device=device) * 2 - 1) * (1 - h)
    sx = w
    if hflip:
        sx = torch.where(torch.rand(b, device=device) < 0.5, -w, w)
    theta = torch.zeros(b, 2, 3, device=device, dtype=x.dtype)
    theta[:, 0, 0], theta[:, 0, 2], theta[:, 1, 1], theta[:, 1, 2] = sx, cx, h, cy
    grid = F.affine_grid(theta, [b, x.shape[1], size, size], align_corners=False)
    return F.grid_sample(x, grid, mode="bilinear", padding_mode="reflection", align_corners=False)


def _gray(x: Tensor) -> Tensor:
    """(B, C, H, W) -> (B, 1, H, W) luma (identity for one channel)."""
    if x.shape[1] == 1:
        return x
    w = torch.tensor(LUMA, device=x.device, dtype=x.dtype).view(1, 3, 1, 1)
    return (x * w).sum(1, keepdim=True)


def color_jitter(x: Tensor, prob: float, brightness: float, contrast: float, saturation: float, hue: float) -> Tensor:
    """Jitter brightness, contrast, saturation and hue of a random ``prob`` share of the images.

    Images not chosen get neutral factors, so the batch takes one pass without branching.
    Hue is a rotation of the chroma plane in YIQ space (a linear stand-in for the HSV shift).
    """
    b, device = x.shape[0], x.device
    on = (torch.rand(b, device=device) < prob).to(x.dtype)

    def factor(strength: float, centre: float = 1.0) -> Tensor:
        f = _uniform(b, centre - strength, centre + strength, device) if strength > 0 else torch.full((b,), centre, device=device)
        return (centre + on * (f - centre)).view(b, 1, 1, 1)

    x = (x * factor(brightness)).clamp_(0, 1)  # a new tensor: the in-place steps below touch only it
    mean = _gray(x).mean(dim=(1, 2, 3), keepdim=True)
    x.sub_(mean).mul_(factor(contrast)).add_(mean).clamp_(0, 1)
    if x.shape[1] == 3:
        gray = _gray(x)
        x.sub_(gray).mul_(factor(saturation)).add_(gray).clamp_(0, 1)
        if hue > 0:
            x = _rotate_hue(x, factor(hue, 0.0).view(b) * 2 * math.pi)
    return x


def _rotate_hue(x: Tensor, angle: Tensor) -> Tensor:
    """Rotate each image's chroma (I, Q) by ``angle`` radians. x: (B, 3, H, W), angle: (B,)."""
    to_yiq = torch.tensor(_RGB_TO_YIQ, device=x.device, dtype=x.dtype)
    cos, sin = torch.cos(angle), torch.sin(angle)
    rot = torch.zeros(x.shape[0], 3, 3, device=x.device, dtype=x.dtype)
    rot[:, 0, 0] = 1
    rot[:, 1, 1], rot[:, 1, 2], rot[:, 2, 1], rot[:, 2, 2] = cos, -sin, sin, cos
    m = torch.linalg.inv(to_yiq) @ rot @ to_yiq  # (B, 3, 3)
    # einsum legend: b batch, i out channel, j in channel, h/w pixels
    return torch.einsum("bij,bjhw->bihw", m, x).clamp_(0, 1)


def _some(x: Tensor, prob: float) -> Tensor:
    """Indices of a random ``prob`` share of the batch (one draw per image)."""
    return torch.nonzero(torch.rand(x.shape[0], device=x.device) < prob).flatten()


def random_grayscale_(x: Tensor, prob: float) -> Tensor:
    if x.shape[1] == 1 or prob <= 0:
        return x
    chosen = _some(x, prob)
    return x.index_copy_(0, chosen, _gray(x.index_select(0, chosen)).expand(-1, x.shape[1], -1, -1))


def gaussian_blur_(x: Tensor, prob: float, sigma: tuple[float, float]) -> Tensor:
    """Blur a random ``prob`` share of the images, each with its own sigma (in pixels).

    The kernel spans about a tenth of the image (odd, at least 3), as BYOL's 23 px at 224 px, but
    no more than 3 of the largest sigma each side (13 px for sigma 2: the rest weighs < 1 %).
    Denormal weights (small sigmas give exp(-90)) are set to 0: they change no sum, and they make
    the CPU's convolution 4-5x slower.
    """
    b, c, h, w = x.shape
    chosen = _some(x, prob)
    if chosen.numel() == 0:
        return x
    k = max(3, min(int(0.1 * h) // 2 * 2 + 1, 2 * math.ceil(3 * sigma[1]) + 1))
    s = _uniform(chosen.numel(), *sigma, x.device)
    t = torch.arange(k, device=x.device, dtype=x.dtype) - k // 2
    kernel = torch.exp(-(t[None] ** 2) / (2 * s[:, None] ** 2))
    kernel = kernel / kernel.sum(1, keepdim=True)
    kernel = torch.where(kernel < torch.finfo(kernel.dtype).tiny, 0.0, kernel).repeat_interleave(c, 0)  # (n*C, k)
    sel = x.index_select(0, chosen).reshape(1, -1, h, w)  # each (image, channel) its own group
    sel = F.pad(sel, (k // 2, k // 2, k // 2, k // 2), mode="reflect")
    sel = F.conv2d(sel, kernel[:, None, :, None], groups=sel.shape[1])
    sel = F.conv2d(sel, kernel[:, None, None, :], groups=sel.shape[1])
    return x.index_copy_(0, chosen, sel.view(-1, c, h, w))


def random_solarize_(x: Tensor, prob: float, threshold: float = 0.5) -> Tensor:
    if prob <= 0:
        return x
    chosen = _some(x, prob)
    sel = x.index_select(0, chosen)
    return x.index_copy_(0, chosen, torch.where(sel >= threshold, 1 - sel, sel))
