"""What image-text methods add to :class:`Method`: captions in the batch, and the two ways an
evaluation reads them (embeddings for zero-shot and retrieval; generated captions)."""

from __future__ import annotations

from typing import ClassVar

import torch.nn as nn
from torch import Tensor

from ..text import TextSpec
from .base import Method


class ImageTextMethod(Method):
    """A method trained on (image, caption) pairs; ``batch.text`` holds one caption per image.

    ``contrastive`` methods embed both sides in one space (``image_embedder``, ``encode_text``);
    ``captioner`` methods write captions (``generate``).
    """

    uses_text: ClassVar[bool] = True
    contrastive: ClassVar[bool] = False
    captioner: ClassVar[bool] = False

    def __init__(self, text: TextSpec | None, total_steps: int, steps_per_epoch: int) -> None:
        if text is None:
            raise ValueError(f"{type(self).__name__} needs the tokenizer's TextSpec (vocabulary size and special ids)")
        super().__init__(total_steps, steps_per_epoch)
        self.spec = text

    def image_embedder(self) -> nn.Module:
        """Images (B, C, H, W) -> embeddings (B, E) in the text's space."""
        raise NotImplementedError

    def encode_text(self, ids: Tensor) -> Tensor:
        """Token ids (B, L) -> embeddings (B, E)."""
        raise NotImplementedError

    def generate(self, images: Tensor, max_len: int | None = None, beam_size: int = 1) -> Tensor:
        """Images (B, C, H, W) -> caption token ids (B, <= max_len), each from <start_of_text>."""
        raise NotImplementedError
