"""CLIP: Learning Transferable Visual Models From Natural Language Supervision (Radford et al., ICML 2021)."""

from __future__ import annotations

import torch.nn as nn
from torch import Tensor

from ..config import CLIPConfig, ModelConfig
from ..losses import LogitScale, clip_loss
from ..text import TextSpec, TextTransformer
from ..text.pretrained import TEXT_TOWERS, FrozenMiniLM
from .base import Batch
from .image_text import ImageTextMethod


class CLIP(ImageTextMethod):
    """Image backbone + linear projection, causal text transformer pooled at end-of-text (or,
    ``text_tower=minilm``, a frozen pretrained MiniLM + trainable projection), a learnable logit
    scale; symmetric InfoNCE over the batch (negatives gathered across processes)."""

    contrastive = True
    evaluations = ("image_text",)

    def __init__(self, backbone: nn.Module, cfg: CLIPConfig, model_cfg: ModelConfig, total_steps: int, steps_per_epoch: int = 1, text: TextSpec | None = None) -> None:
        super().__init__(text, total_steps, steps_per_epoch)
        self.cfg = cfg
        self.backbone = backbone
        self.visual_proj = nn.Linear(backbone.num_features, cfg.embed_dim, bias=False)
        if cfg.text_tower not in TEXT_TOWERS:
            raise ValueError(f"unknown method.text_tower '{cfg.text_tower}'; valid: {', '.join(TEXT_TOWERS)}")
        if cfg.text_tower == "minilm":
            self.text = FrozenMiniLM(text.pad_id, cfg.embed_dim)
        else:
            self.text = TextTransformer(text.vocab_size, text.eot_id, text.context_length, cfg.text_width, cfg.text_layers, cfg.text_heads, cfg.embed_dim)
        self.logit_scale = LogitScale(cfg.logit_scale_init)

    def image_embedder(self) -> nn.Module:
        return nn.Sequential(self.backbone, self.visual_proj)

    def encode_text(self, ids: Tensor) -> Tensor:
        return self.text(ids)

    def training_step(self, batch: Batch, step: int) -> dict[str, Tensor]:
        h = self.backbone(batch.views[0])  # (B, D)
        scale = self.logit_scale()
        loss = clip_loss(self.visual_proj(h), self.text(batch.text), scale, self.cfg.gather_distributed)
        return {"loss": loss, "logit_scale": scale.detach(), "features": h.detach()}
