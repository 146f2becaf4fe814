"""Zero-shot classification and cross-modal retrieval from image and text embeddings, as CLIP
evaluates them."""

from __future__ import annotations

import torch.nn.functional as F
from torch import Tensor


def class_embeddings(template_embeddings: Tensor) -> Tensor:
    """Template ensembles: (C classes, T templates, D) text embeddings -> (C, D), each class the
    normalised mean of its normalised template embeddings."""
    return F.normalize(F.normalize(template_embeddings, dim=-1).mean(dim=1), dim=-1)


def zero_shot_accuracy(image_embeddings: Tensor, classes: Tensor, labels: Tensor, ks: tuple[int, ...] = (1, 5)) -> dict[str, float]:
    """Top-k accuracy (%) of classifying images (N, D) by cosine similarity to class embeddings (C, D)."""
    scores = F.normalize(image_embeddings, dim=-1) @ classes.T  # (N, C)
    ranked = scores.argsort(dim=1, descending=True)
    return {f"top{k}": 100.0 * (ranked[:, : min(k, classes.shape[0])] == labels[:, None]).any(dim=1).float().mean().item() for k in ks}


def _ranks(query: Tensor, gallery: Tensor) -> Tensor:
    """1-based rank of gallery item i for query i, over cosine similarity: (N,)."""
    sims = F.normalize(query, dim=-1) @ F.normalize(gallery, dim=-1).T  # (N, N)
    return (sims > sims.diagonal()[:, None]).sum(dim=1) + 1


def retrieval_metrics(image_embeddings: Tensor, text_embeddings: Tensor, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k (%), mean and median rank for image->text and text->image retrieval; pair i of
    ``image_embeddings`` (N, D) and ``text_embeddings`` (N, D) is the match."""
    out: dict[str, float] = {}
    for name, ranks in (("image_to_text", _ranks(image_embeddings, text_embeddings)), ("text_to_image", _ranks(text_embeddings, image_embeddings))):
        for k in ks:
            out[f"{name}_R@{k}"] = 100.0 * (ranks <= k).float().mean().item()
        out[f"{name}_mean_rank"] = ranks.float().mean().item()
        out[f"{name}_median_rank"] = ranks.float().median().item()
    return out
