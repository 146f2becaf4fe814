"""CoCa: Contrastive Captioners are Image-Text Foundation Models (Yu et al., 2022)."""

from __future__ import annotations

import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..config import CoCaConfig, ModelConfig
from ..losses import LogitScale, clip_loss
from ..models.tokens import image_tokens
from ..text import TextSpec, TextTransformer
from ..text.generate import generate
from ..text.multimodal import AttentionalPooler, CrossAttentionBlock
from .base import Batch
from .image_text import ImageTextMethod


class CoCaImageEmbedder(nn.Module):
    """Images -> backbone tokens -> the one-query contrastive pooler -> projection: (B, E)."""

    def __init__(self, coca: CoCa) -> None:
        super().__init__()
        self.coca = coca

    def forward(self, images: Tensor) -> Tensor:
        return self.coca.image_embedding(image_tokens(self.coca.backbone, images)[0])


class CoCa(ImageTextMethod):
    """An image backbone (its output tokens or last feature map) with two attentional poolers (1 query for the contrastive embedding,
    ``caption_queries`` for the decoder); a text decoder split into a unimodal half (causal,
    with a [CLS] token for the contrastive embedding) and a multimodal half that cross-attends to
    the pooled image tokens. loss = contrastive_weight x CLIP loss + caption_weight x next-token
    cross-entropy."""

    contrastive = True
    captioner = True
    evaluations = ("image_text", "captions")

    def __init__(self, backbone: nn.Module, cfg: CoCaConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1, text: TextSpec | None = None) -> None:
        super().__init__(text, total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        width = cfg.text_width
        self.contrastive_pooler = AttentionalPooler(width, backbone.num_features, 1, cfg.text_heads)
        self.caption_pooler = AttentionalPooler(width, backbone.num_features, cfg.caption_queries, cfg.text_heads)
        self.visual_proj = nn.Linear(width, cfg.embed_dim, bias=False)
        self.unimodal = TextTransformer(text.vocab_size, text.eot_id, text.context_length, width, cfg.text_layers, cfg.text_heads, cfg.embed_dim, cls_token=True, pad_id=text.pad_id)
        self.multimodal = nn.ModuleList([CrossAttentionBlock(width, cfg.text_heads) for _ in range(cfg.multimodal_layers)])
        self.norm = nn.LayerNorm(width)
        self.lm_head = nn.Linear(width, text.vocab_size)
        self.logit_scale = LogitScale(cfg.logit_scale_init)

    def image_embedding(self, tokens: Tensor) -> Tensor:
        """Image tokens (B, T, D) -> contrastive image embedding (B, E)."""
        return self.visual_proj(self.contrastive_pooler(tokens)[:, 0])

    def decode(self, image_queries: Tensor, text_tokens: Tensor) -> Tensor:
        """Pooled image tokens (B, Q, width), unimodal outputs (B, L, width) -> next-token logits (B, L, V)."""
        x = text_tokens
        for block in self.multimodal:
            x = block(x, image_queries)
        return self.lm_head(self.norm(x))

    def image_embedder(self) -> nn.Module:
        return CoCaImageEmbedder(self)

    def encode_text(self, ids: Tensor) -> Tensor:
        return self.unimodal(ids)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        ids = batch.text  # (B, L)
        tokens, pooled = image_tokens(self.backbone, batch.views[0])  # (B, T, D), (B, D)
        text_tokens, text_embedding = self.unimodal.tokens_and_embedding(ids[:, :-1])  # (B, L-1, width), (B, E)
        scale = self.logit_scale()
        contrastive = clip_loss(self.image_embedding(tokens), text_embedding, scale, self.cfg.gather_distributed)
        logits = self.decode(self.caption_pooler(tokens), text_tokens)  # (B, L-1, V)
        caption = F.cross_entropy(logits.flatten(0, 1).float(), ids[:, 1:].flatten(), ignore_index=self.spec.pad_id)
        loss = self.cfg.contrastive_weight * contrastive + self.cfg.caption_weight * caption
        return {"loss": loss, "contrastive_loss": contrastive.detach(), "caption_loss": caption.detach(), "logit_scale": scale.detach(), "features": pooled.detach()}

    def generate(self, images: Tensor, max_len: int | None = None, beam_size: int = 1) -> Tensor:
        queries = self.caption_pooler(image_tokens(self.backbone, images)[0])  # (B, Q, width)
        return generate(lambda ctx, ids: self.decode(ctx, self.unimodal.tokens(ids))[:, -1], queries, self.spec, max_len, beam_size)
