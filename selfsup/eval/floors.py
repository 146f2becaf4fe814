"""The floors a learned representation must beat: raw pixels and a randomly initialised backbone."""

from __future__ import annotations

import torch
from torch import Tensor

from ..config import Config
from ..data import StreamingDataset, build_dataset, channel_stats, iterate_images, limit_images
from ..models import build_backbone
from .features import extract_features
from .knn import knn_accuracy
from .linear import linear_probe_accuracy


def _pixels(dataset, batch_size: int, workers: int, limit: int | None) -> tuple[Tensor, Tensor]:  # noqa: ANN001 - any dataset
    """Raw pixels in [0, 1] as features (N, C*H*W), read in chunks (centre crops of streamed data)."""
    parts = list(iterate_images(dataset, batch_size, workers, limit))
    return torch.cat([x.flatten(1).float() / 255 for x, _ in parts]), torch.cat([y for _, y in parts])


def floors(cfg: Config) -> dict[str, dict[str, float]]:
    """kNN and linear-probe accuracy (%) of raw pixels and of the untrained backbone, by the same code as a run's
    (the kNN bank and the probe's training set bounded by ``eval.max_train_images``)."""
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    size = train_set.image_size  # in memory: the images' own size
    if isinstance(train_set, StreamingDataset):
        size = cfg.augment.global_size or size  # streamed: read at the model's input size, as a run reads them
        for part in (train_set, test_set):
            part.evaluate_at(size, part.channels)
    workers, batch = cfg.data.num_workers, cfg.eval.batch_size
    mean, std = channel_stats(train_set, workers)
    bank, bank_limit = limit_images(train_set, cfg.eval.max_train_images, cfg.train.seed)
    torch.manual_seed(cfg.train.seed)
    backbone = build_backbone(cfg.model.backbone, train_set.channels, size, cfg.model.global_pool, cfg.model.patch_size)
    random_init = (
        extract_features(backbone, bank, mean, std, batch, num_workers=workers, limit=bank_limit),
        extract_features(backbone, test_set, mean, std, batch, num_workers=workers),
    )
    pixels = (_pixels(bank, batch, workers, bank_limit), _pixels(test_set, batch, workers, None))
    out = {}
    for name, ((ftr, ytr), (fte, yte)) in (("raw_pixels", pixels), ("random_init", random_init)):
        out[name] = {
            "knn_acc": knn_accuracy(ftr, ytr, fte, yte, cfg.eval.knn_k, cfg.eval.knn_temperature),
            "linear_acc": linear_probe_accuracy(ftr, ytr, fte, yte, cfg.eval.linear_epochs, cfg.eval.linear_lr),
        }
    return out
