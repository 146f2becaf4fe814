"""CoCa's image-side pooling and its multimodal text decoder: caption positions attend causally
to each other and, through cross-attention, to pooled image tokens."""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.layers import Mlp
from torch import Tensor


class AttentionalPooler(nn.Module):
    """``n_queries`` learned queries cross-attend to image tokens: (B, N, context_dim) -> (B, n_queries, dim)."""

    def __init__(self, dim: int, context_dim: int, n_queries: int, heads: int) -> None:
        super().__init__()
        self.query = nn.Parameter(torch.randn(n_queries, dim) * 0.02)
        self.norm_q, self.norm_k = nn.LayerNorm(dim), nn.LayerNorm(context_dim)
        self.attn = nn.MultiheadAttention(dim, heads, kdim=context_dim, vdim=context_dim, batch_first=True)

    def forward(self, tokens: Tensor) -> Tensor:
        kv = self.norm_k(tokens)
        q = self.norm_q(self.query).expand(len(tokens), -1, -1)
        return self.attn(q, kv, kv, need_weights=False)[0]


class CrossAttentionBlock(nn.Module):
    """Pre-norm residual block: causal self-attention, cross-attention to ``context``, MLP."""

    def __init__(self, width: int, heads: int) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = nn.LayerNorm(width), nn.LayerNorm(width), nn.LayerNorm(width)
        self.self_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.cross_attn = nn.MultiheadAttention(width, heads, batch_first=True)
        self.mlp = Mlp(width, 4 * width)

    def forward(self, x: Tensor, context: Tensor) -> Tensor:
        """x (B, L, width), context (B, M, width) -> (B, L, width); position t sees positions <= t."""
        length = x.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=x.device).triu(1)  # True = may not attend
        h = self.norm1(x)
        x = x + self.self_attn(h, h, h, attn_mask=causal, need_weights=False)[0]
        h = self.norm2(x)
        x = x + self.cross_attn(h, context, context, need_weights=False)[0]
        return x + self.mlp(self.norm3(x))
