"""Batched, on-device augmentations."""

from .views import MultiCropAugment, eval_transform

__all__ = ["MultiCropAugment", "eval_transform"]
