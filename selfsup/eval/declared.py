"""The evaluations a method declares beyond kNN, the probes and the collapse monitors:
``Method.evaluations`` names them, the trainer runs them, so a new method needs no edit there."""

from __future__ import annotations

from collections.abc import Callable

import torch

from ..data import ShardImages
from .captioning import caption_accuracy, generate_captions
from .image_text import image_text_metrics


def _image_text(method, tokenizer, test_set, train_templates: int, mean, std, batch_size: int, device) -> dict[str, float]:  # noqa: ANN001
    """Zero-shot and retrieval (contrastive image-text methods); shards' captions are read with their images, not held."""
    if isinstance(test_set, ShardImages):
        return {}
    return image_text_metrics(method, tokenizer, test_set, train_templates, mean, std, batch_size, device)


def _captions(method, tokenizer, test_set, train_templates: int, mean, std, batch_size: int, device) -> dict[str, float]:  # noqa: ANN001
    """Caption accuracy (captioners) where the images' attributes are known (``shapes``)."""
    if test_set.attributes is None:
        return {}
    return caption_accuracy(generate_captions(method, tokenizer, test_set, mean, std, device=device), test_set.attributes)


EVALUATIONS: dict[str, Callable[..., dict[str, float]]] = {"image_text": _image_text, "captions": _captions}


def run_declared(method, tokenizer, test_set, train_templates: int, mean, std, batch_size: int, device: torch.device | str) -> dict[str, float]:  # noqa: ANN001
    """Every evaluation ``method.evaluations`` names, merged."""
    out: dict[str, float] = {}
    for name in method.evaluations:
        if name not in EVALUATIONS:
            raise ValueError(f"{type(method).__name__} declares an unknown evaluation '{name}'; known: {', '.join(EVALUATIONS)}")
        out.update(EVALUATIONS[name](method, tokenizer, test_set, train_templates, mean, std, batch_size, device))
    return out
