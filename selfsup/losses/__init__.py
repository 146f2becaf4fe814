"""Losses: pure functions of tensors (and DINO's teacher targets, which keep a centre)."""

from .byol import byol_loss
from .clip import LogitScale, clip_loss, clip_loss_grad
from .dino import TeacherTargets, cross_entropy_pairs, distillation_diagnostics, sinkhorn_knopp
from .ibot import block_masks, masked_patch_loss
from .koleo import koleo_loss
from .logo import AffinityRegressor, affinity_gap, clip_repulsion
from .ntxent import ntxent_loss
from .reconstruction import reconstruction_loss

__all__ = [
    "AffinityRegressor",
    "LogitScale",
    "TeacherTargets",
    "affinity_gap",
    "block_masks",
    "byol_loss",
    "clip_loss",
    "clip_loss_grad",
    "clip_repulsion",
    "cross_entropy_pairs",
    "distillation_diagnostics",
    "koleo_loss",
    "masked_patch_loss",
    "ntxent_loss",
    "reconstruction_loss",
    "sinkhorn_knopp",
]
