"""Batched, on-device augmentations."""

from .captions import pick_captions
from .views import MultiCropAugment, eval_transform

__all__ = ["MultiCropAugment", "eval_transform", "pick_captions"]
