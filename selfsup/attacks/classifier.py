"""A trained run as the classifier an attack fools: pixels in [0, 1] -> normalise -> encoder ->
linear probe -> logits. The attack's eps is stated on that [0, 1] pixel scale."""

from __future__ import annotations

import torch
import torch.nn as nn
from torch import Tensor

INPUT_SCALE = "pixels in [0, 1]"


class PixelClassifier(nn.Module):
    """(B, C, H, W) pixels in [0, 1] -> logits (B, classes)."""

    def __init__(self, encoder: nn.Module, probe: nn.Module, mean: tuple[float, ...], std: tuple[float, ...]) -> None:
        super().__init__()
        self.encoder, self.probe = encoder, probe
        self.register_buffer("mean", torch.tensor(mean).view(1, -1, 1, 1))
        self.register_buffer("std", torch.tensor(std).view(1, -1, 1, 1))

    def forward(self, x: Tensor) -> Tensor:
        return self.probe(self.encoder((x - self.mean) / self.std))


def run_classifier(run) -> PixelClassifier:
    """The run's encoder with its online linear probe, frozen, in eval mode."""
    if run.probe is None:
        raise ValueError(f"{run.run_dir} has no linear probe (it trained without labels or with train.online_probe=false); an attack needs a classifier")
    return PixelClassifier(run.encoder(), run.probe, run.meta.mean, run.meta.std).eval().requires_grad_(False)


def pixels(images_uint8: Tensor) -> Tensor:
    return images_uint8.float() / 255
