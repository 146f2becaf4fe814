"""Zero-shot classification and cross-modal retrieval from image and text embeddings, as CLIP
evaluates them."""

from __future__ import annotations

import torch
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


def retrieval_ranks(query: Tensor, gallery: Tensor, groups: Tensor | None = None) -> Tensor:
    """1-based rank, over cosine similarity, of the best-placed correct gallery item for each
    query: (N,). Gallery item i is the match of query i; with ``groups`` (N,) every item of the
    query's group is (the same caption shared by several images, as COCO's five captions)."""
    sims = F.normalize(query, dim=-1) @ F.normalize(gallery, dim=-1).T  # (N, N)
    correct = torch.eye(len(query), dtype=torch.bool, device=query.device) if groups is None else groups[:, None] == groups[None, :]
    best = sims.masked_fill(~correct, float("-inf")).amax(dim=1)
    return (sims > best[:, None]).sum(dim=1) + 1


def retrieval_metrics(image_embeddings: Tensor, text_embeddings: Tensor, groups: Tensor | None = None, ks: tuple[int, ...] = (1, 5, 10)) -> dict[str, float]:
    """Recall@k (%), mean and median rank for image->text and text->image retrieval; pair i of
    ``image_embeddings`` (N, D) and ``text_embeddings`` (N, D) is the match (and so is every
    pair of its group, see :func:`retrieval_ranks`)."""
    out: dict[str, float] = {}
    for name, ranks in (("image_to_text", retrieval_ranks(image_embeddings, text_embeddings, groups)), ("text_to_image", retrieval_ranks(text_embeddings, image_embeddings, groups))):
        for k in ks:
            out[f"{name}_R@{k}"] = 100.0 * (ranks <= k).float().mean().item()
        out[f"{name}_mean_rank"] = ranks.float().mean().item()
        out[f"{name}_median_rank"] = ranks.float().median().item()
    return out


def caption_groups(captions: list[str]) -> Tensor:
    """(N,) ids, equal for equal captions."""
    ids: dict[str, int] = {}
    return torch.tensor([ids.setdefault(c, len(ids)) for c in captions])
