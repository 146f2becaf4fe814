"""How long a method's whole training step takes, measured as a benchmark measures it: one fixed
augmented batch of the preset's data, forward + backward + update + EMA, the median over timed
steps after a warm-up, in one process with no data loading or evaluation in the timed loop. The
token-dropping benchmark and the AttnDrop study's speed claim both read it."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch
from torch import nn

from ..augment import MultiCropAugment
from ..config import Config
from ..data import build_dataset, channel_stats
from ..methods import build_method
from ..methods.base import Batch
from ..models import build_backbone
from .optim import build_optimizer


def median_seconds(step: Callable[[int], None], steps: int, warmup: int = 3) -> float:
    """Median wall time of ``step(i)`` over ``steps`` calls after ``warmup`` untimed ones."""
    for i in range(warmup):
        step(i)
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(warmup + i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def preset_backbone(cfg: Config, channels: int, image_size: int) -> nn.Module:
    return build_backbone(cfg.model.backbone, channels, image_size, cfg.model.global_pool, cfg.model.patch_size)


def preset_views(cfg: Config) -> tuple[list[torch.Tensor], int, int]:
    """One augmented batch of the preset's training data (its crops: N global + M local views,
    each (B, C, H, W)), with the data's channels and image size."""
    data = build_dataset(cfg.data, train=True)
    views = MultiCropAugment(cfg.augment, data.image_size, *channel_stats(data))(data.images[: cfg.data.batch_size])
    return views, data.channels, data.image_size


def step_seconds(cfg: Config, steps: int = 20, warmup: int = 3) -> float:
    """Median seconds of one whole training step of ``cfg.method`` on ``cfg``'s model and crops."""
    views, channels, image_size = preset_views(cfg)
    torch.manual_seed(cfg.train.seed)
    method = build_method(cfg.method, preset_backbone(cfg, channels, image_size), cfg.model, total_steps=1000, steps_per_epoch=100)
    opt = build_optimizer(cfg.optim, [method])

    def step(i: int) -> None:
        opt.zero_grad()
        method.training_step(Batch(views), i)["loss"].backward()
        method.before_optimizer_step(i)
        opt.step()
        method.on_step_end(i)

    return median_seconds(step, steps, warmup)
