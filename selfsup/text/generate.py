"""Autoregressive decoding for captioners: greedy (beam size 1) and beam search, stopping at
end-of-text."""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch import Tensor

from .tokenizer import TextSpec


@torch.no_grad()
def generate(next_logits: Callable[[Tensor, Tensor], Tensor], context: Tensor, spec: TextSpec, max_len: int | None = None, beam_size: int = 1, length_penalty: float = 1.0) -> Tensor:
    """Decode one caption per image.

    next_logits(context (B', ...), ids (B', t)) -> logits of the next token (B', V);
    ``context`` (B, ...) is what the captioner conditions on (image tokens). Every caption
    starts at <start_of_text> (never emitted again, nor padding); a beam that emits <end_of_text> is finished and continues with
    padding only; decoding stops when every beam is finished or at ``max_len`` tokens. The best
    beam maximises log-probability / length ** ``length_penalty``. -> ids (B, t <= max_len).
    """
    max_len = max_len or spec.context_length
    b, k = context.shape[0], beam_size
    ctx = context.repeat_interleave(k, dim=0)  # (B*K, ...)
    ids = torch.full((b * k, 1), spec.sot_id, dtype=torch.long, device=context.device)
    scores = torch.zeros(b, k, device=context.device)
    scores[:, 1:] = float("-inf")  # all beams start identical: expand only the first
    done = torch.zeros(b * k, dtype=torch.bool, device=context.device)
    for _ in range(max_len - 1):
        logits = next_logits(ctx, ids).float()  # (B*K, V)
        logits[:, [spec.pad_id, spec.sot_id]] = float("-inf")  # never emitted inside a caption
        logp = logits.log_softmax(dim=-1)
        vocab = logp.shape[1]
        logp[done] = float("-inf")
        logp[done, spec.pad_id] = 0.0
        scores, flat = (scores.view(-1, 1) + logp).view(b, k * vocab).topk(k, dim=1)  # (B, K)
        rows = (torch.arange(b, device=ids.device)[:, None] * k + flat // vocab).view(-1)
        token = (flat % vocab).view(-1, 1)
        ids = torch.cat([ids[rows], token], dim=1)
        done = done[rows] | (token[:, 0] == spec.eot_id)
        if done.all():
            break
    lengths = (ids[:, 1:] != spec.pad_id).sum(dim=1).clamp(min=1).view(b, k).float()
    best = (scores / lengths**length_penalty).argmax(dim=1)
    return ids.view(b, k, -1)[torch.arange(b, device=ids.device), best]
