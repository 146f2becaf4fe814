"""Attention masks as additive biases (0 = may attend, -inf = may not), shaped (B, 1, Q, K) so
that timm's blocks and ``scaled_dot_product_attention`` broadcast them over heads."""

from __future__ import annotations

import torch
from torch import Tensor


def to_bias(allowed: Tensor, dtype: torch.dtype) -> Tensor:
    """A boolean (B, Q, K) "query may attend to key" -> the additive bias (B, 1, Q, K)."""
    return torch.zeros(allowed.shape, dtype=dtype, device=allowed.device).masked_fill(~allowed, float("-inf"))[:, None]


def causal_with_cls(ids: Tensor, pad_id: int) -> Tensor:
    """Captions (B, L) followed by one [CLS] query: each caption position sees itself and the
    positions before it; the [CLS] (last) sees every non-padding token and itself. -> (B, L+1, L+1) bool."""
    b, length = ids.shape
    n = length + 1
    causal = torch.ones(n, n, dtype=torch.bool, device=ids.device).tril()
    keys = torch.cat([ids != pad_id, torch.ones(b, 1, dtype=torch.bool, device=ids.device)], dim=1)  # (B, L+1)
    allowed = causal[None].expand(b, n, n).clone()
    allowed[:, -1] = keys
    return allowed


def prefix_lm(n_image: int, prefix_len: Tensor, text_len: int) -> Tensor:
    """SimVLM's mask over [image tokens (n_image) | caption tokens (text_len)]: everyone sees the
    image and the first ``prefix_len`` (B,) caption tokens (a bidirectional prefix); caption
    position i also sees caption positions <= i (causal). -> (B, n_image + text_len, same) bool."""
    device = prefix_len.device
    n = n_image + text_len
    text_pos = torch.arange(n, device=device) - n_image  # -n_image..-1 for image tokens
    key_is_image = text_pos < 0
    in_prefix = text_pos[None, :] < prefix_len[:, None]  # (B, K)
    causal = (text_pos[None, :] <= text_pos[:, None]) & ~key_is_image[None, :] & (text_pos[:, None] >= 0)  # (Q, K)
    return key_is_image[None, None, :] | in_prefix[:, None, :] | causal[None]
