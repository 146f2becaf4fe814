"""Datasets read lazily from files: an image folder or a caption CSV listed once, each image read
and decoded in a loader worker when its batch is drawn, never all held in memory.

An item is the image's views (training: :class:`~selfsup.data.crops.MultiCropViews`; otherwise
one centre crop, :class:`~selfsup.data.crops.CentreCrop`), its label and, for image-text runs,
its captions' token ids. A file that cannot be read comes back as a :class:`Bad` marker instead
of an exception, so that the batch's collate counts it and the main process, not a worker,
stops the run with one line naming the file (or skips it with ``data.skip_bad``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor
from torch.utils.data import Dataset, Sampler

from .base import DataError
from .crops import CentreCrop

Transform = Callable[[bytes, str], list[Tensor]]


@dataclass(frozen=True)
class Bad:
    """A sample that could not be used: where it is and why."""

    where: str
    reason: str

    def __str__(self) -> str:
        return self.reason if self.where in self.reason else f"{self.where}: {self.reason}"


@dataclass
class StreamBatch:
    """A collated batch of a streaming dataset.

    views: one uint8 tensor (B, C, S, S) per view; labels (B,) (-1 unlabelled); text (B, T, L)
    token ids or None; skipped: the samples of this batch that could not be read.
    """

    views: list[Tensor]
    labels: Tensor
    text: Tensor | None
    skipped: list[Bad]


def collate_stream(items: list[tuple | Bad], fill: bool = False) -> StreamBatch:
    """Stack the readable items' views. ``fill`` (training): an unreadable item's place is taken by a
    readable one of the same batch, so every batch keeps its size (processes that gather negatives
    need equal ones); evaluation batches just leave it out."""
    good = [it for it in items if not isinstance(it, Bad)]
    skipped = [it for it in items if isinstance(it, Bad)]
    if not good:
        return StreamBatch([], torch.empty(0, dtype=torch.long), None, skipped)
    if fill:
        good = [good[i % len(good)] for i in range(len(items))]
    views = [torch.stack(v) for v in zip(*(it[0] for it in good))]
    labels = torch.tensor([it[1] for it in good], dtype=torch.long)
    text = torch.stack([it[2] for it in good]) if good[0][2] is not None else None
    return StreamBatch(views, labels, text, skipped)


class StreamingDataset:
    """What the file and shard datasets share: sizes, classes, the per-image transform, bad samples."""

    def __init__(self, image_size: int, channels: int, class_names: list[str] | None, skip_bad: bool) -> None:
        self.image_size = image_size
        self.channels = channels
        self.class_names = class_names
        self.skip_bad = skip_bad
        self.transform: Transform = CentreCrop(image_size, channels)
        self.skipped: list[str] = []
        self.captions: list[str] | None = None
        self.text: Tensor | None = None
        self.masks = None
        self.attributes = None

    @property
    def num_classes(self) -> int:
        return len(self.class_names) if self.class_names else 0

    def evaluate_at(self, size: int, channels: int) -> None:
        """Read every image as one centre crop of ``size`` px with ``channels`` (1 grey, 3 RGB): a run's input."""
        self.image_size, self.channels = size, channels
        self.transform = CentreCrop(size, channels)

    def accept(self, skipped: list[Bad]) -> None:
        """Record a batch's unreadable samples; without ``skip_bad`` the first one is an error."""
        if skipped and not self.skip_bad:
            raise DataError(f"{skipped[0]} (set data.skip_bad=true to skip unreadable images)")
        self.skipped.extend(str(b) for b in skipped)

    def _item(self, data: bytes | None, where: str, label: int, text: Tensor | None) -> tuple | Bad:
        try:
            if data is None:
                raise DataError(f"{where}: missing image")
            return self.transform(data, where), label, text
        except (DataError, RuntimeError) as e:
            return Bad(where, str(e))


class ImageFiles(StreamingDataset, Dataset):
    """Images listed by path (a folder's files, a CSV's rows), read and decoded per item.

    files: N paths; labels: (N,) int64, -1 where unlabelled; captions: N strings or None.
    """

    def __init__(self, files: list[Path], labels: Tensor, image_size: int, channels: int = 3, class_names: list[str] | None = None, captions: list[str] | None = None, skip_bad: bool = False) -> None:
        super().__init__(image_size, channels, class_names, skip_bad)
        self.files = files
        self.labels = labels.long()
        self.captions = captions

    def __len__(self) -> int:
        return len(self.files)

    @property
    def num_classes(self) -> int:
        return int(self.labels.max()) + 1 if len(self.labels) else 0

    def __getitem__(self, i: int) -> tuple | Bad:
        file = self.files[i]
        try:
            data = file.read_bytes()
        except OSError as e:
            return Bad(str(file), f"cannot read image {file}: {e.strerror or e}")
        return self._item(data, str(file), int(self.labels[i]), self.text[i] if self.text is not None else None)

    def subset(self, indices: Tensor) -> "ImageFiles":
        idx = indices.tolist()
        part = ImageFiles([self.files[i] for i in idx], self.labels[indices], self.image_size, self.channels, self.class_names, [self.captions[i] for i in idx] if self.captions is not None else None, self.skip_bad)
        part.text = self.text[indices] if self.text is not None else None
        part.transform = self.transform
        return part


class EpochSampler(Sampler[int]):
    """Each process's share of a seeded per-epoch permutation, from a start offset.

    The permutation of epoch e is drawn from ``seed + e``; it is padded by repetition to a
    multiple of ``world`` (as DistributedSampler does), and rank r takes every world-th index
    from r. ``start`` skips this rank's first indices without reading them (resuming mid-epoch).
    """

    def __init__(self, size: int, shuffle: bool, seed: int = 0, rank: int = 0, world: int = 1) -> None:
        self.size, self.shuffle, self.seed, self.rank, self.world = size, shuffle, seed, rank, world
        self.epoch, self.start = 0, 0
        self.per_rank = math.ceil(size / world)

    def set_epoch(self, epoch: int, start: int = 0) -> None:
        self.epoch, self.start = epoch, start

    def __len__(self) -> int:
        return self.per_rank - self.start

    def __iter__(self) -> Iterator[int]:
        order = torch.randperm(self.size, generator=torch.Generator().manual_seed(self.seed + self.epoch)) if self.shuffle else torch.arange(self.size)
        order = torch.cat([order, order[: self.per_rank * self.world - self.size]])
        return iter(order[self.rank :: self.world][self.start :].tolist())
