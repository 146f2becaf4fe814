"""Backbones: any timm model by name, plus small presets sized for a laptop CPU.

Every backbone maps images (B, C, H, W) to features (B, D) and carries ``num_features``.
:func:`backbone_spec` gives the timm name and keyword arguments that rebuild it, which is
what ``selfsup export`` writes beside the weights.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import timm
import torch.nn as nn

from .conv_stem import ConvStemPatchEmbed

# name -> (timm model, its keyword arguments); ``patch_size`` None = a quarter of the image side.
PRESETS: dict[str, tuple[str, dict[str, Any]]] = {
    # ~1,000 img/s fwd+bwd on 2 CPU threads at 28 px (16 tokens).
    "vit_micro": ("vit_tiny_patch16_224", {"embed_dim": 128, "depth": 4, "num_heads": 4, "patch_size": None, "global_pool": "avg"}),
    # vit_micro with a convolutional stem (:mod:`selfsup.models.conv_stem`): a 3x3 conv (16
    # channels) and a patchify kernel overlapping 2 px; same tokens, faster learning on small data.
    "vitc_micro": ("vit_tiny_patch16_224", {"embed_dim": 128, "depth": 4, "num_heads": 4, "patch_size": None, "global_pool": "avg", "conv_stem": {"widths": [16], "overlap": 2}}),
    # ViT-Tiny (dim 192, depth 12) with 4 px patches for 32 px images.
    "vit_tiny": ("vit_tiny_patch16_224", {"patch_size": 4}),
    # ViT-S/16 for GPU runs on real images.
    "vit_small": ("vit_small_patch16_224", {"patch_size": 16}),
    # ResNet-18 with the CIFAR stem (3x3 stride-1 conv, no max-pool).
    "resnet18_cifar": ("resnet18", {}),
    # A narrow ResNet (one block per stage, 32-256 channels, CIFAR stem): ~240 img/s fwd+bwd at
    # 32 px on 2 threads; it learns `shapes` to 99 % supervised in 10 epochs, where vit_micro stalls.
    "resnet_micro": ("resnet18", {"layers": (1, 1, 1, 1), "channels": (32, 64, 128, 256), "stem_width": 32}),
}
CIFAR_STEM = ("resnet18_cifar", "resnet_micro")


def backbone_spec(name: str, in_chans: int, img_size: int, global_pool: str | None = None, patch_size: int | None = None) -> tuple[str, dict[str, Any]]:
    """The timm model name and kwargs (``num_classes=0``: features, no classifier) for ``name``.

    ``global_pool`` overrides the preset's pooling (ViTs: ``"token"`` = [CLS], ``"avg"`` / ``"max"`` = mean / per-channel max over patch tokens).
    ``patch_size`` overrides a ViT preset's patch side. ViTs take any image size that is a
    multiple of the patch (multi-crop's local views).
    """
    timm_name, kwargs = PRESETS.get(name, (name, {}))
    kwargs = {**kwargs, "num_classes": 0, "in_chans": in_chans}
    if patch_size is not None:
        if "patch_size" not in kwargs:
            raise ValueError(f"model.patch_size needs a ViT preset ({', '.join(n for n, (_, k) in PRESETS.items() if 'patch_size' in k)}); got '{name}'")
        kwargs["patch_size"] = patch_size
    if "patch_size" in kwargs and kwargs["patch_size"] is None:
        kwargs["patch_size"] = max(1, img_size // 4)
    if global_pool is not None:
        kwargs["global_pool"] = global_pool
    if timm_name.startswith(("vit_", "deit_", "eva_")):
        kwargs["img_size"] = img_size
        kwargs["dynamic_img_size"] = True
    return timm_name, kwargs


def timm_builds_alone(name: str) -> bool:
    """Whether ``timm.create_model`` with :func:`backbone_spec`'s kwargs rebuilds this backbone;
    presets that swap a stem (CIFAR ResNets, conv-stem ViTs) need :func:`build_backbone`."""
    return name not in CIFAR_STEM and "conv_stem" not in PRESETS.get(name, ("", {}))[1]


def _cifar_stem(model: nn.Module) -> None:
    """Replace a timm ResNet's 7x7/2 conv + max-pool with a 3x3/1 conv (for 32 px images)."""
    conv = model.conv1
    model.conv1 = nn.Conv2d(conv.in_channels, conv.out_channels, 3, 1, 1, bias=False)
    model.maxpool = nn.Identity()


def build_backbone(name: str, in_chans: int, img_size: int, global_pool: str | None = None, patch_size: int | None = None) -> nn.Module:
    """A preset (see :data:`PRESETS`) or any timm model name, without its classifier."""
    timm_name, kwargs = backbone_spec(name, in_chans, img_size, global_pool, patch_size)
    if "conv_stem" in kwargs:
        kwargs["embed_layer"] = partial(ConvStemPatchEmbed, **kwargs.pop("conv_stem"))
    if not timm.is_model(timm_name):
        raise ValueError(f"unknown backbone '{name}'; presets: {', '.join(PRESETS)}, or any timm model name")
    model = timm.create_model(timm_name, pretrained=False, **kwargs)
    if name in CIFAR_STEM:
        _cifar_stem(model)
    return model
