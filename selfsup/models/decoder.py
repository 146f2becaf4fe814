"""MAE's light pixel decoder (He et al., CVPR 2022) and the patch <-> image reshapes.

The decoder takes an encoder's output for the kept tokens, puts a learned mask token at every
dropped position, adds fixed 2-D sine-cosine position embeddings (any grid size), runs a few
transformer blocks and predicts each patch's pixels.
"""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.models.vision_transformer import Block, VisionTransformer
from torch import Tensor

from .conv_stem import image_channels


def patchify(images: Tensor, patch: int) -> Tensor:
    """Images (B, C, H, W) -> patches (B, N, patch * patch * C), raster order, channels last."""
    b, c, h, w = images.shape
    x = images.reshape(b, c, h // patch, patch, w // patch, patch)
    return x.permute(0, 2, 4, 3, 5, 1).reshape(b, (h // patch) * (w // patch), patch * patch * c)


def unpatchify(patches: Tensor, patch: int, grid: tuple[int, int], channels: int) -> Tensor:
    """Patches (B, N, patch * patch * C) -> images (B, C, H, W); the inverse of :func:`patchify`."""
    gh, gw = grid
    x = patches.reshape(patches.shape[0], gh, gw, patch, patch, channels)
    return x.permute(0, 5, 1, 3, 2, 4).reshape(patches.shape[0], channels, gh * patch, gw * patch)


def sincos_pos_embed(grid: tuple[int, int], dim: int, device: torch.device | None = None) -> Tensor:
    """Fixed 2-D sine-cosine position embeddings (N, dim): half the channels for rows, half for columns."""
    if dim % 4:
        raise ValueError(f"sine-cosine position embeddings need a dim divisible by 4, got {dim}")
    quarter = dim // 4
    freqs = 1.0 / 10000 ** (torch.arange(quarter, device=device, dtype=torch.float32) / quarter)  # (dim/4,)
    rows, cols = torch.meshgrid(torch.arange(grid[0], device=device), torch.arange(grid[1], device=device), indexing="ij")
    parts = []
    for pos in (rows.flatten().float(), cols.flatten().float()):
        angles = pos[:, None] * freqs[None]  # (N, dim/4)
        parts += [angles.sin(), angles.cos()]
    return torch.cat(parts, dim=1)


class PixelDecoder(nn.Module):
    """Encoder tokens of kept patches -> pixel predictions for every patch.

    forward(tokens (B, P + K, D_enc), keep (B, K), grid (h, w)) -> (B, h * w, patch * patch * C).
    """

    def __init__(self, encoder_dim: int, patch_size: int, in_chans: int, dim: int = 128, depth: int = 2, num_heads: int = 4, num_prefix_tokens: int = 1) -> None:
        super().__init__()
        if dim % num_heads or dim % 4:
            raise ValueError(f"decoder dim {dim} must be divisible by its {num_heads} heads and by 4")
        self.num_prefix_tokens = num_prefix_tokens
        self.embed = nn.Linear(encoder_dim, dim)
        self.mask_token = nn.Parameter(torch.zeros(1, 1, dim))
        nn.init.normal_(self.mask_token, std=0.02)
        self.blocks = nn.Sequential(*[Block(dim, num_heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(depth)])
        self.norm = nn.LayerNorm(dim)
        self.pred = nn.Linear(dim, patch_size * patch_size * in_chans)

    @classmethod
    def for_vit(cls, vit: VisionTransformer, dim: int, depth: int, num_heads: int) -> PixelDecoder:
        """A decoder sized to ``vit``'s width, patch size, channels and prefix tokens."""
        return cls(vit.embed_dim, vit.patch_embed.patch_size[0], image_channels(vit.patch_embed), dim, depth, num_heads, vit.num_prefix_tokens)

    def forward(self, tokens: Tensor, keep: Tensor, grid: tuple[int, int]) -> Tensor:
        x = self.embed(tokens)  # (B, P + K, d)
        p = self.num_prefix_tokens
        prefix, kept = x[:, :p], x[:, p:]
        b, n, d = x.shape[0], grid[0] * grid[1], x.shape[-1]
        full = self.mask_token.to(x.dtype).expand(b, n, d).clone()
        full.scatter_(1, keep.unsqueeze(-1).expand(-1, -1, d), kept)  # (B, N, d)
        full = full + sincos_pos_embed(grid, d, x.device).to(x.dtype)
        x = self.blocks(torch.cat([prefix, full], dim=1))
        return self.pred(self.norm(x))[:, p:]

