"""The loader that feeds uint8 batches to the trainer and the evaluators, for every kind of dataset."""

from __future__ import annotations

import copy
from functools import partial

import numpy as np
import torch
from torch import Tensor
from torch.utils.data import DataLoader, Dataset, DistributedSampler

from ..core.distributed import rank, world_size
from .base import TensorImageDataset
from .base import channel_stats as tensor_channel_stats
from .shards import ShardImages
from .stream import EpochSampler, ImageFiles, collate_stream


def _keep_batch(batch: tuple[Tensor, ...]) -> tuple[Tensor, ...]:
    return batch


def make_loader(
    dataset: Dataset,
    batch_size: int,
    shuffle: bool,
    num_workers: int = 0,
    drop_last: bool = False,
    seed: int = 0,
    distributed: bool = False,
) -> DataLoader:
    """A loader of batches for this process.

    In memory: ``(images uint8 (B, C, H, W), labels (B,))`` (and ``text`` (B, T, L) token ids when
    the dataset has them), one indexing op a batch. Streamed (:class:`ImageFiles`,
    :class:`ShardImages`): :class:`~selfsup.data.stream.StreamBatch` es, each image read and made
    into its views by a worker. ``distributed`` gives each process its own part: a sampler's
    share for files, a share of the shards for ``wds``.
    """
    generator = torch.Generator().manual_seed(seed)
    world, me = (world_size(), rank()) if distributed else (1, 0)
    if isinstance(dataset, ShardImages):
        dataset.split(me, world)
        dataset.shuffle = dataset.repeat = shuffle  # training: a shuffled stream that never runs dry; else one pass in order
        # Not persistent: each epoch's workers copy the dataset anew, with its epoch and resume offset.
        return DataLoader(dataset, batch_size=batch_size, num_workers=num_workers, drop_last=drop_last, collate_fn=partial(collate_stream, fill=drop_last), generator=generator)
    if isinstance(dataset, ImageFiles):
        sampler = EpochSampler(len(dataset), shuffle, seed, me, world)
        return DataLoader(dataset, batch_size=batch_size, sampler=sampler, num_workers=num_workers, drop_last=drop_last, collate_fn=partial(collate_stream, fill=drop_last), generator=generator, persistent_workers=num_workers > 0)
    sampler = DistributedSampler(dataset, shuffle=shuffle, seed=seed, drop_last=drop_last) if distributed else None
    batched = isinstance(dataset, TensorImageDataset)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=shuffle if sampler is None else False,
        sampler=sampler,
        num_workers=num_workers,
        drop_last=drop_last,
        collate_fn=_keep_batch if batched else None,
        generator=generator,
        persistent_workers=num_workers > 0,
    )


def iterate_images(dataset: Dataset, batch_size: int, num_workers: int = 0, limit: int | None = None):  # noqa: ANN201 - a generator
    """Evaluation batches in order, without augmentation: ``(images uint8 (B, C, S, S), labels (B,))``,
    at most ``limit`` images. Streamed datasets decode in ``num_workers`` workers, one centre crop
    each; unreadable images are counted (``data.skip_bad``) or stop with a :class:`DataError`."""
    if isinstance(dataset, TensorImageDataset):
        n = len(dataset) if limit is None else min(limit, len(dataset))
        for start in range(0, n, batch_size):
            yield dataset.images[start : min(start + batch_size, n)], dataset.labels[start : min(start + batch_size, n)]
        return
    seen = 0
    for batch in make_loader(dataset, batch_size, shuffle=False, num_workers=num_workers):
        dataset.accept(batch.skipped)
        if not batch.views:
            continue
        images, labels = batch.views[0], batch.labels
        if limit is not None and seen + len(labels) > limit:
            images, labels = images[: limit - seen], labels[: limit - seen]
        seen += len(labels)
        yield images, labels
        if limit is not None and seen >= limit:
            return


def channel_stats(dataset: Dataset, num_workers: int = 0) -> tuple[tuple[float, ...], tuple[float, ...]]:
    """Per-channel mean and std of the images in [0, 1]: from up to 10,000 of them held in memory,
    from 512 centre crops of a streamed dataset (spread over a folder, the first of the shards)."""
    if isinstance(dataset, TensorImageDataset):
        return tensor_channel_stats(dataset)
    if isinstance(dataset, ImageFiles):
        dataset = dataset.subset(torch.linspace(0, len(dataset) - 1, min(512, len(dataset))).long())  # spread over the classes
    x = torch.cat([images for images, _ in iterate_images(dataset, 128, num_workers, limit=512)]).float() / 255
    return tuple(x.mean(dim=(0, 2, 3)).tolist()), tuple(x.std(dim=(0, 2, 3)).clamp(min=1e-3).tolist())


def for_training(dataset: Dataset, transform) -> Dataset:  # noqa: ANN001 - a per-image transform
    """The dataset the trainer's loader reads: in memory, the dataset itself (cropped on the device);
    streamed, a copy whose workers make each image's views with ``transform``
    (:meth:`selfsup.augment.MultiCropAugment.worker_views`), the original keeping its evaluation crop."""
    if isinstance(dataset, TensorImageDataset):
        return dataset
    part = copy.copy(dataset)
    part.transform = transform
    return part


def limit_images(dataset: Dataset, limit: int | None, seed: int = 0) -> tuple[Dataset, int | None]:
    """At most ``limit`` images for a kNN bank or a probe's training set: a seeded sample where the
    dataset can be indexed, the stream's first ``limit`` otherwise (returned as the read limit)."""
    if limit is None or len(dataset) <= limit:
        return dataset, None
    if isinstance(dataset, ShardImages):
        return dataset, limit
    keep = torch.from_numpy(np.sort(np.random.default_rng(seed).permutation(len(dataset))[:limit]))
    return dataset.subset(keep), None
