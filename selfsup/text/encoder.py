"""CLIP's text tower: token + position embeddings, causal transformer blocks (timm's ``Block``
with ``is_causal``), final norm, the feature at each caption's end-of-text token, projection."""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.models.vision_transformer import Block
from torch import Tensor


class TextTransformer(nn.Module):
    """Token ids (B, L) -> text embeddings (B, out_dim); ``tokens`` gives every position's
    output (B, L, width) for captioning heads."""

    def __init__(self, vocab_size: int, eot_id: int, context_length: int = 32, width: int = 128, layers: int = 4, heads: int = 4, out_dim: int = 128) -> None:
        super().__init__()
        self.eot_id = eot_id
        self.token_embed = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Parameter(torch.zeros(1, context_length, width))
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)
        self.blocks = nn.ModuleList([Block(width, heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, out_dim, bias=False)

    def tokens(self, ids: Tensor) -> Tensor:
        """(B, L) -> (B, L, width); position t sees positions <= t only."""
        if ids.shape[1] > self.pos_embed.shape[1]:
            raise ValueError(f"{ids.shape[1]} tokens exceed the context length {self.pos_embed.shape[1]}")
        x = self.token_embed(ids) + self.pos_embed[:, : ids.shape[1]]
        for block in self.blocks:
            x = block(x, is_causal=True)
        return self.norm(x)

    def forward(self, ids: Tensor) -> Tensor:
        x = self.tokens(ids)  # (B, L, width)
        eot = (ids == self.eot_id).int().argmax(dim=1)  # each caption's (first) end-of-text position
        return self.proj(x[torch.arange(len(ids), device=ids.device), eot])
