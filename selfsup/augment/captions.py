"""Text augmentation: each image trains on one of its captions, drawn afresh every step."""

from __future__ import annotations

import torch
from torch import Tensor


def pick_captions(text: Tensor) -> Tensor:
    """Token ids of T captions per image (B, T, L) -> one random caption per image (B, L)."""
    choice = torch.randint(text.shape[1], (text.shape[0],), device=text.device)
    return text[torch.arange(text.shape[0], device=text.device), choice]
