"""A convolutional stem for timm's ViT patch embedding.

Small ViTs trained from scratch on a few thousand images learn slowly: a 7 px patch is one
linear map of its own pixels. 3x3 convolutions (BatchNorm, ReLU) before the patchify
convolution, and a patchify kernel that overlaps the neighbouring patches, give every token
local features that see across its border, which is what "Early convolutions help
transformers see better" (Xiao et al., NeurIPS 2021) found to speed up ViT training.
Supervised on MNIST-5k for 15 epochs (``benchmarks/supervised_ceiling.py``): ``vit_micro``
84.2 %, ``vitc_micro`` (one 3x3 conv of 16 channels, 2 px overlap) 95.6 %.

The stem keeps timm's ``PatchEmbed`` contract: the same ``patch_size``, patch grid and dynamic
image sizes, so token adapters, masks, token dropping and pixel targets work unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch.nn as nn
from timm.layers import PatchEmbed


class ConvStemPatchEmbed(PatchEmbed):
    """timm's ``PatchEmbed`` whose ``proj`` is [3x3 conv, BatchNorm, ReLU] x len(widths) at full
    resolution, then the patchify convolution: stride = patch, kernel = patch + 2 * overlap,
    padding = overlap, so an image whose side is a multiple of the patch keeps its grid."""

    def __init__(self, *args: Any, widths: Sequence[int] = (16,), overlap: int = 2, in_chans: int = 3, **kwargs: Any) -> None:
        super().__init__(*args, in_chans=in_chans, **kwargs)
        layers: list[nn.Module] = []
        channels = in_chans
        for width in widths:
            layers += [nn.Conv2d(channels, width, 3, 1, 1, bias=False), nn.BatchNorm2d(width), nn.ReLU(inplace=True)]
            channels = width
        patchify = self.proj
        kernel = tuple(k + 2 * overlap for k in patchify.kernel_size)
        layers.append(nn.Conv2d(channels, patchify.out_channels, kernel, patchify.stride, overlap, bias=patchify.bias is not None))
        self.proj = nn.Sequential(*layers)


def image_channels(patch_embed: nn.Module) -> int:
    """The number of image channels a (plain or stemmed) patch embedding takes."""
    return next(m for m in patch_embed.modules() if isinstance(m, nn.Conv2d)).in_channels
