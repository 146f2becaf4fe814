"""Schedules: pure functions of the step."""

from __future__ import annotations

import math


def cosine(step: int, total: int, start: float, end: float) -> float:
    """``start`` at step 0, ``end`` at step ``total`` and after, half a cosine in between."""
    if total <= 0 or step >= total:
        return end
    return end + (start - end) * 0.5 * (1 + math.cos(math.pi * max(step, 0) / total))


def warmup_cosine(step: int, total: int, warmup: int, peak: float, end: float) -> float:
    """Linear from 0 to ``peak`` over ``warmup`` steps, then :func:`cosine` from ``peak`` to ``end``."""
    if step < warmup:
        return peak * (step + 1) / warmup
    return cosine(step - warmup, total - warmup, peak, end)


def linear_warmup(step: int, warmup: int, start: float, end: float) -> float:
    """``start`` at step 0, linearly to ``end`` at step ``warmup``, then ``end`` (DINO's teacher temperature)."""
    if step >= warmup:
        return end
    return start + (end - start) * step / warmup
