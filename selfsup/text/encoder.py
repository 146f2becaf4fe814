"""Text transformers: token + position embeddings, causal blocks (timm's ``Block``), final norm,
then the feature at each caption's end-of-text token (CLIP) or at an appended [CLS] (CoCa),
projected into the image-text space."""

from __future__ import annotations

import torch
import torch.nn as nn
from timm.models.vision_transformer import Block
from torch import Tensor

from .masks import causal_with_cls, to_bias


class TextTransformer(nn.Module):
    """Token ids (B, L) -> text embeddings (B, out_dim); ``tokens`` gives every caption
    position's output (B, L, width) for captioning heads.

    With ``cls_token`` a learned [CLS] (no position embedding, so its output does not depend on
    the padding length) is appended; it attends to every non-padding token and gives the embedding.
    """

    def __init__(
        self, vocab_size: int, eot_id: int, context_length: int = 32, width: int = 128, layers: int = 4, heads: int = 4, out_dim: int = 128, cls_token: bool = False, pad_id: int = 0
    ) -> None:
        super().__init__()
        self.eot_id, self.pad_id = eot_id, pad_id
        self.token_embed = nn.Embedding(vocab_size, width)
        self.pos_embed = nn.Parameter(torch.zeros(1, context_length, width))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, width)) if cls_token else None
        nn.init.normal_(self.token_embed.weight, std=0.02)
        nn.init.normal_(self.pos_embed, std=0.01)
        if self.cls_token is not None:
            nn.init.normal_(self.cls_token, std=0.02)
        self.blocks = nn.ModuleList([Block(width, heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(layers)])
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, out_dim, bias=False)

    def _run(self, ids: Tensor) -> Tensor:
        """(B, L) -> (B, L, width), or (B, L + 1, width) with the [CLS] output last."""
        if ids.shape[1] > self.pos_embed.shape[1]:
            raise ValueError(f"{ids.shape[1]} tokens exceed the context length {self.pos_embed.shape[1]}")
        x = self.token_embed(ids) + self.pos_embed[:, : ids.shape[1]]
        if self.cls_token is None:
            for block in self.blocks:
                x = block(x, is_causal=True)
            return self.norm(x)
        x = torch.cat([x, self.cls_token.expand(len(x), -1, -1)], dim=1)
        bias = to_bias(causal_with_cls(ids, self.pad_id), x.dtype)
        for block in self.blocks:
            x = block(x, attn_mask=bias)
        return self.norm(x)

    def tokens(self, ids: Tensor) -> Tensor:
        """(B, L) -> (B, L, width); position t sees positions <= t only."""
        return self._run(ids)[:, : ids.shape[1]]

    def tokens_and_embedding(self, ids: Tensor) -> tuple[Tensor, Tensor]:
        """One pass: every position's output (B, L, width) and the text embedding (B, out_dim)."""
        x = self._run(ids)
        if self.cls_token is not None:
            return x[:, :-1], self.proj(x[:, -1])
        eot = (ids == self.eot_id).int().argmax(dim=1)  # each caption's (first) end-of-text position
        return x, self.proj(x[torch.arange(len(ids), device=ids.device), eot])

    def forward(self, ids: Tensor) -> Tensor:
        return self.tokens_and_embedding(ids)[1]
