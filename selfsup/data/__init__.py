"""Datasets: each yields uint8 images (C, H, W) and integer labels (-1 when unlabelled)."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import torch

from ..config import DataConfig
from .base import DataError, TensorImageDataset
from .loader import channel_stats, for_training, iterate_images, limit_images, make_loader
from .builtin import digits, mnist
from .caption_csv import caption_csv, csv_rows
from .files import cifar10, folder, list_folder, stl10
from .shapes import generate_shapes, shapes
from .shards import ShardImages, expand_shards
from .stream import ImageFiles, StreamBatch, StreamingDataset

DATASETS = ("mnist", "digits", "shapes", "cifar10", "stl10", "folder", "csv", "wds")
STREAMED = ("folder", "csv", "wds")  # read lazily unless data.stream=false

__all__ = ["DATASETS", "DataError", "ImageFiles", "ShardImages", "StreamBatch", "StreamingDataset", "TensorImageDataset", "build_dataset", "channel_stats", "for_training", "generate_shapes", "iterate_images", "limit_images", "make_loader"]

Dataset = TensorImageDataset | ImageFiles | ShardImages


def _seeded_split(ds, train: bool, test_fraction: float, seed: int):  # noqa: ANN001, ANN202 - TensorImageDataset or ImageFiles
    n_test = int(round(len(ds) * test_fraction))
    perm = torch.from_numpy(np.random.default_rng(seed).permutation(len(ds)))
    part = ds.subset(perm[n_test:] if train else perm[:n_test])
    part.skipped = list(ds.skipped)
    return part


def _stream_folder(cfg: DataConfig) -> ImageFiles:
    files, labels, classes, skipped = list_folder(cfg.path, cfg.skip_bad)
    ds = ImageFiles(files, torch.tensor(labels), cfg.image_size, class_names=classes, skip_bad=cfg.skip_bad)
    ds.skipped = skipped
    return ds


def _stream_csv(cfg: DataConfig) -> ImageFiles:
    paths, captions, skipped = csv_rows(cfg.path, cfg.csv_img_key, cfg.csv_caption_key, cfg.csv_separator, cfg.skip_bad)
    ds = ImageFiles(paths, torch.full((len(paths),), -1), cfg.image_size, captions=captions, skip_bad=cfg.skip_bad)
    ds.skipped = skipped
    return ds


def _shards(cfg: DataConfig, train: bool) -> ShardImages:
    """The training shards, or the held-out ones: ``data.val_path``, else the last ``test_fraction`` of the shards."""
    shards = expand_shards(cfg.path)
    if cfg.val_path:
        part = shards if train else expand_shards(cfg.val_path)
    else:
        n_test = int(round(len(shards) * cfg.test_fraction))
        if train and n_test == 0:
            part = shards
        elif n_test == 0 or n_test == len(shards):
            raise DataError(f"wds: {len(shards)} shard(s) cannot be split into train and test by data.test_fraction={cfg.test_fraction}; set data.val_path to held-out shards")
        else:
            part = shards[: len(shards) - n_test] if train else shards[len(shards) - n_test :]
    return ShardImages(part, cfg.image_size, skip_bad=cfg.skip_bad, shuffle_buffer=cfg.shuffle_buffer, seed=cfg.seed)


def build_dataset(cfg: DataConfig, train: bool) -> Dataset:
    """The train or the held-out part of the dataset ``cfg.name``: in memory, or streamed from
    files (``folder``, ``csv``, ``wds`` unless ``data.stream=false``)."""
    name = cfg.name
    stream = cfg.stream if cfg.stream is not None else name in STREAMED
    if stream and name not in STREAMED:
        raise DataError(f"data.stream=true reads files lazily; '{name}' is held in memory (streamed datasets: {', '.join(STREAMED)})")
    if name == "wds":
        if not stream:
            raise DataError("wds shards are always streamed; drop data.stream=false")
        return _shards(cfg, train)
    if name in ("folder", "csv") and cfg.val_path:  # held-out images of their own (ImageNet's val folder): no split
        whole = replace(cfg, path=cfg.path if train else cfg.val_path, val_path=None, test_fraction=0.0)
        return build_dataset(whole, train=True)
    if stream and name == "folder":
        return _seeded_split(_stream_folder(cfg), train, cfg.test_fraction, cfg.seed)
    if stream and name == "csv":
        return _seeded_split(_stream_csv(cfg), train, cfg.test_fraction, cfg.seed)
    if name == "mnist":
        return mnist(train)
    if name == "digits":
        return digits(train, cfg.image_size, cfg.test_fraction, cfg.seed)
    if name == "shapes":
        return shapes(train, cfg.num_images, cfg.image_size, cfg.test_fraction, cfg.seed)
    if name == "cifar10":
        return cifar10(cfg.path, train)
    if name == "stl10":
        return stl10(cfg.path, "train" if train else "test")
    if name == "folder":
        return _seeded_split(folder(cfg.path, cfg.image_size, cfg.skip_bad), train, cfg.test_fraction, cfg.seed)
    if name == "csv":
        ds = caption_csv(cfg.path, cfg.image_size, cfg.csv_img_key, cfg.csv_caption_key, cfg.csv_separator, cfg.skip_bad)
        return _seeded_split(ds, train, cfg.test_fraction, cfg.seed)
    raise DataError(f"unknown dataset '{name}'; valid datasets: {', '.join(DATASETS)}")
