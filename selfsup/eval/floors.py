"""The floors a learned representation must beat: raw pixels and a randomly initialised backbone."""

from __future__ import annotations

import torch

from ..config import Config
from ..data import build_dataset, channel_stats
from ..models import build_backbone
from .features import extract_features
from .knn import knn_accuracy
from .linear import linear_probe_accuracy


def floors(cfg: Config) -> dict[str, dict[str, float]]:
    """kNN and linear-probe accuracy (%) of raw pixels and of the untrained backbone, by the same code as a run's."""
    train_set, test_set = build_dataset(cfg.data, train=True), build_dataset(cfg.data, train=False)
    mean, std = channel_stats(train_set)
    torch.manual_seed(cfg.train.seed)
    backbone = build_backbone(cfg.model.backbone, train_set.channels, train_set.image_size, cfg.model.global_pool, cfg.model.patch_size)
    random_init = (
        extract_features(backbone, train_set, mean, std, cfg.eval.batch_size),
        extract_features(backbone, test_set, mean, std, cfg.eval.batch_size),
    )
    pixels = ((train_set.images.flatten(1).float() / 255, train_set.labels), (test_set.images.flatten(1).float() / 255, test_set.labels))
    out = {}
    for name, ((ftr, ytr), (fte, yte)) in (("raw_pixels", pixels), ("random_init", random_init)):
        out[name] = {
            "knn_acc": knn_accuracy(ftr, ytr, fte, yte, cfg.eval.knn_k, cfg.eval.knn_temperature),
            "linear_acc": linear_probe_accuracy(ftr, ytr, fte, yte, cfg.eval.linear_epochs, cfg.eval.linear_lr),
        }
    return out
