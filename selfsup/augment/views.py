"""View generation: any number of global and local crops, each image its own random draw.

SimCLR and BYOL use two global views (BYOL's asymmetric blur/solarize probabilities are the
defaults); DINO-style multi-crop adds local crops. Data held in memory arrives as one uint8
batch and is cropped here; streamed data arrives as its views already cropped from the original
photo by the loader workers (:meth:`MultiCropAugment.view_specs`). Either way the photometric
augmentations run batched on the training device.
"""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import AugmentConfig, ConfigError
from ..data.crops import MultiCropViews, ViewSpec
from .ops import color_jitter, gaussian_blur_, random_grayscale_, random_resized_crop, random_solarize_


def _per_view(values: list[float], i: int) -> float:
    """The i-th view's probability; views past the list's end take its last value."""
    return values[min(i, len(values) - 1)]


class MultiCropAugment:
    """uint8 (B, C, H, W), or its views cropped by the loader -> [global views (B, C, G, G)] +
    [local views (B, C, L, L)], normalised."""

    def __init__(self, cfg: AugmentConfig, image_size: int, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        self.cfg = cfg
        self.global_size = cfg.global_size or image_size
        self.local_size = cfg.local_size or max(8, round(self.global_size * 3 / 7))
        if cfg.n_local and self.local_size >= self.global_size:
            # Methods tell global from local views by size, so local crops must be smaller.
            raise ConfigError(f"augment.local_size ({self.local_size}) must be smaller than the global size ({self.global_size})")
        self.mean = torch.tensor(mean).view(1, -1, 1, 1)
        self.std = torch.tensor(std).view(1, -1, 1, 1)

    def view_specs(self) -> list[ViewSpec]:
        """Every view's side and crop ranges, global views first, for crops made in loader workers."""
        c = self.cfg
        return [ViewSpec(self.global_size, c.global_scale, c.ratio)] * c.n_global + [ViewSpec(self.local_size, c.local_scale, c.ratio)] * c.n_local

    def worker_views(self, channels: int) -> MultiCropViews:
        """The per-image transform a streamed dataset's workers run: the crops (and flips) of :meth:`view_specs`."""
        return MultiCropViews(self.view_specs(), self.cfg.hflip, channels)

    def _view(self, x: Tensor, size: int, scale: tuple[float, float], blur_p: float, solarize_p: float) -> Tensor:
        return self._photometric(random_resized_crop(x, size, scale, self.cfg.hflip, self.cfg.ratio), blur_p, solarize_p)

    def _photometric(self, v: Tensor, blur_p: float, solarize_p: float) -> Tensor:
        c = self.cfg
        v = color_jitter(v, c.jitter_prob, c.brightness, c.contrast, c.saturation, c.hue)  # a new tensor: the steps below change it in place
        v = random_grayscale_(v, c.grayscale_prob)
        v = gaussian_blur_(v, blur_p, c.blur_sigma)
        return random_solarize_(v, solarize_p)

    def normalize(self, x: Tensor) -> Tensor:
        """In place: ``x`` is a view this class made."""
        return x.sub_(self.mean.to(x.device)).div_(self.std.to(x.device))

    @torch.no_grad()
    def __call__(self, images: Tensor | list[Tensor]) -> list[Tensor]:
        c = self.cfg
        if isinstance(images, list):  # cropped in the loader: global views, then local views
            probs = [(_per_view(c.blur_prob, i), _per_view(c.solarize_prob, i)) for i in range(c.n_global)] + [(c.local_blur_prob, 0.0)] * c.n_local
            return [self.normalize(self._photometric(v.float().div_(255), *p)) for v, p in zip(images, probs)]
        x = images.float().div_(255)
        views = [
            self._view(x, self.global_size, c.global_scale, _per_view(c.blur_prob, i), _per_view(c.solarize_prob, i))
            for i in range(c.n_global)
        ]
        views += [self._view(x, self.local_size, c.local_scale, c.local_blur_prob, 0.0) for _ in range(c.n_local)]
        return [self.normalize(v) for v in views]


def eval_transform(images: Tensor, mean: tuple[float, ...], std: tuple[float, ...]) -> Tensor:
    """uint8 (B, C, H, W) -> normalised float, no augmentation (for kNN, probes, embedding)."""
    m = torch.tensor(mean, device=images.device).view(1, -1, 1, 1)
    s = torch.tensor(std, device=images.device).view(1, -1, 1, 1)
    return (images.float() / 255 - m) / s
