"""The interface every method implements; the trainer knows nothing else about it."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import torch.nn as nn
from torch import Tensor


@dataclass
class Batch:
    """One training step's input: the augmented views (each (B, C, H, W)) and, for image-text
    methods, one caption per image as token ids ``text`` (B, L)."""

    views: list[Tensor]
    text: Tensor | None = None


class Method(nn.Module):
    """A method owns its networks and loss; it does no IO and owns no optimizer.

    ``training_step(batch, step)`` gets a :class:`Batch` and returns ``"loss"``, named loss
    terms, and ``"features"``: detached backbone features (B, D) of the first view, which the
    trainer's online linear probe reads.

    ``total_steps`` and ``steps_per_epoch`` let a method run its own schedules (EMA momentum,
    temperatures, freezing) in steps. ``uses_text`` tells the trainer to tokenize captions and
    put them in the batch; ``evaluations`` names what the trainer evaluates beyond kNN and the probes.
    """

    uses_text: ClassVar[bool] = False
    evaluations: ClassVar[tuple[str, ...]] = ()  # names in selfsup.eval.declared.EVALUATIONS, run after kNN and the probes

    def __init__(self, total_steps: int, steps_per_epoch: int) -> None:
        super().__init__()
        self.total_steps = total_steps
        self.steps_per_epoch = steps_per_epoch

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        raise NotImplementedError

    def forward(self, batch: Batch, step: int) -> dict[str, Tensor]:
        # DDP synchronises gradients through forward(), so the trainer calls the method itself.
        return self.training_step(batch, step)

    def before_optimizer_step(self, step: int) -> None:
        """Gradient edits after backward and clipping (DINO freezes its last layer here)."""

    def on_step_end(self, step: int) -> None:
        """EMA updates, centres and schedules that follow the optimizer step."""

    def encoder(self) -> nn.Module:
        """The network that eval, embed and export use: images (B, C, H, W) -> features (B, D)."""
        return self.backbone
