"""In-memory image datasets: small data decoded once and held as one uint8 tensor."""

from __future__ import annotations

import torch
from torch import Tensor
from torch.utils.data import Dataset


class DataError(ValueError):
    """Bad or missing input data; the message names the file and what is wrong."""


class TensorImageDataset(Dataset):
    """Images held in memory as one uint8 tensor.

    images: (N, C, H, W) uint8; labels: (N,) int64, -1 where unlabelled.
    Optional per-image extras: masks (N, H, W) uint8, captions (list of N strings) and
    attributes (N, A) int64 (``shapes``: shape, colour, size, background; captions are
    rendered from them with any template, see :mod:`selfsup.data.captions`); ``text`` (N, T, L)
    token ids of T captions per image, set by the trainer for image-text methods and then
    returned as a third item of every batch.
    Batches are fetched with one indexing op (``__getitems__``), not N ``__getitem__`` calls.
    """

    def __init__(
        self,
        images: Tensor,
        labels: Tensor | None = None,
        masks: Tensor | None = None,
        captions: list[str] | None = None,
        class_names: list[str] | None = None,
        attributes: Tensor | None = None,
    ) -> None:
        if images.dtype != torch.uint8 or images.ndim != 4:
            raise DataError(f"images must be a (N, C, H, W) uint8 tensor, got {tuple(images.shape)} {images.dtype}")
        self.images = images.contiguous()
        self.labels = labels.long() if labels is not None else torch.full((len(images),), -1, dtype=torch.long)
        self.masks = masks
        self.captions = captions
        self.class_names = class_names
        self.attributes = attributes
        self.text: Tensor | None = None
        self.skipped: list[str] = []

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int) -> tuple[Tensor, ...]:
        item = (self.images[i], self.labels[i])
        return item if self.text is None else (*item, self.text[i])

    def __getitems__(self, indices: list[int]) -> tuple[Tensor, ...]:
        idx = torch.as_tensor(indices)
        batch = (self.images[idx], self.labels[idx])
        return batch if self.text is None else (*batch, self.text[idx])

    @property
    def channels(self) -> int:
        return self.images.shape[1]

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    @property
    def image_size(self) -> int:
        return self.images.shape[-1]

    def subset(self, indices: Tensor) -> "TensorImageDataset":
        part = TensorImageDataset(
            self.images[indices],
            self.labels[indices],
            self.masks[indices] if self.masks is not None else None,
            [self.captions[i] for i in indices.tolist()] if self.captions is not None else None,
            self.class_names,
            self.attributes[indices] if self.attributes is not None else None,
        )
        part.text = self.text[indices] if self.text is not None else None
        return part


def channel_stats(dataset: TensorImageDataset) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the images in [0, 1] (from up to 10,000 of them)."""
    x = dataset.images[:10000].float() / 255
    return tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3)).clamp(min=1e-3).tolist())
