"""A prefix-LM captioner with SimVLM's objective (Wang et al., ICLR 2022): image tokens and a
random-length caption prefix are attended bidirectionally; the rest of the caption is predicted
causally."""

from __future__ import annotations

import torch
import torch.nn as nn
import torch.nn.functional as F
from timm.models.vision_transformer import Block
from torch import Tensor

from ..config import ModelConfig, PrefixLMConfig
from ..models.tokens import image_tokens
from ..text import TextSpec
from ..text.generate import generate
from ..text.masks import prefix_lm, to_bias
from .base import Batch
from .image_text import ImageTextMethod


class PrefixLM(ImageTextMethod):
    """Image tokens (a ViT's output tokens or a CNN's last feature map) projected to the text width, then one transformer over [image | caption] with
    the prefix-LM mask; loss on the caption tokens after each caption's random prefix."""

    captioner = True
    evaluations = ("captions",)

    def __init__(self, backbone: nn.Module, cfg: PrefixLMConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1, text: TextSpec | None = None) -> None:
        super().__init__(text, total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        width = cfg.text_width
        self.image_proj = nn.Linear(backbone.num_features, width)
        self.token_embed = nn.Embedding(text.vocab_size, width)
        self.pos_embed = nn.Parameter(torch.randn(1, text.context_length, width) * 0.01)
        nn.init.normal_(self.token_embed.weight, std=0.02)
        self.blocks = nn.ModuleList([Block(width, cfg.text_heads, mlp_ratio=4.0, qkv_bias=True) for _ in range(cfg.text_layers)])
        self.norm = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, text.vocab_size)

    def logits(self, image: Tensor, ids: Tensor, prefix_len: Tensor) -> Tensor:
        """Projected image tokens (B, N, width), caption ids (B, L), prefix lengths (B,) -> logits (B, L, V)."""
        x = torch.cat([image, self.token_embed(ids) + self.pos_embed[:, : ids.shape[1]]], dim=1)
        bias = to_bias(prefix_lm(image.shape[1], prefix_len, ids.shape[1]), x.dtype)
        for block in self.blocks:
            x = block(x, attn_mask=bias)
        return self.lm_head(self.norm(x[:, image.shape[1] :]))

    def image_context(self, images: Tensor) -> Tensor:
        return self.image_proj(image_tokens(self.backbone, images)[0])  # (B, N, width)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        ids = batch.text  # (B, L)
        inputs, targets = ids[:, :-1], ids[:, 1:].clone()
        length = (ids != self.spec.pad_id).sum(dim=1)  # tokens up to and with <end_of_text>
        # A prefix of 1 .. length-1 tokens (at least <start_of_text>, at least one token to predict).
        prefix = 1 + (torch.rand(len(ids), device=ids.device) * (length - 1).float()).long()
        positions = torch.arange(targets.shape[1], device=ids.device)
        targets[positions[None] < (prefix - 1)[:, None]] = self.spec.pad_id  # the prefix is given, not predicted
        tokens, pooled = image_tokens(self.backbone, batch.views[0])  # (B, T, D), (B, D)
        logits = self.logits(self.image_proj(tokens), inputs, prefix)  # (B, L-1, V)
        loss = F.cross_entropy(logits.flatten(0, 1).float(), targets.flatten(), ignore_index=self.spec.pad_id)
        return {"loss": loss, "prefix_len": prefix.float().mean().detach(), "features": pooled.detach()}

    def generate(self, images: Tensor, max_len: int | None = None, beam_size: int = 1) -> Tensor:
        def next_logits(ctx: Tensor, ids: Tensor) -> Tensor:
            return self.logits(ctx, ids, torch.ones(len(ids), dtype=torch.long, device=ids.device))[:, -1]

        return generate(next_logits, self.image_context(images), self.spec, max_len, beam_size)
