"""Image-text evaluation of a trained method: zero-shot classification with held-out templates
and retrieval on held-out images (contrastive methods)."""

from __future__ import annotations

import torch
from torch import Tensor

from ..data import TensorImageDataset
from ..data.captions import caption_table, class_prompts, has_builtin_templates, render_captions, split_templates
from ..text import CaptionTokenizer
from .features import extract_features
from .zeroshot import caption_groups, class_embeddings, retrieval_metrics, zero_shot_accuracy


@torch.no_grad()
def embed_texts(method, tokenizer: CaptionTokenizer, captions: list[str], batch_size: int = 512, device: torch.device | str = "cpu") -> Tensor:
    """Captions -> the method's text embeddings (N, E), float32 on the CPU."""
    was_training = method.training
    method.eval()
    out = []
    for start in range(0, len(captions), batch_size):
        ids = tokenizer.encode(captions[start : start + batch_size], method.spec.context_length).to(device)
        out.append(method.encode_text(ids).float().cpu())
    method.train(was_training)
    return torch.cat(out)


def zero_shot_classifier(method, tokenizer: CaptionTokenizer, prompts: list[list[str]], batch_size: int = 512, device: torch.device | str = "cpu") -> Tensor:
    """Prompts, one list of equally many per class -> class embeddings (C, E) (template ensembles)."""
    flat = [p for row in prompts for p in row]
    return class_embeddings(embed_texts(method, tokenizer, flat, batch_size, device).view(len(prompts), len(prompts[0]), -1))


def zero_shot_prompts(dataset: TensorImageDataset, train_templates: int, classes: list[str] | None = None, templates: list[str] | None = None) -> tuple[list[str], list[list[str]]]:
    """Class names and their prompts. Without ``templates``: the built-in held-out templates
    (``shapes``, digits). With them: each template's ``{}`` filled with each class name
    (``classes``, default the dataset's class names)."""
    if templates is None and classes is None and has_builtin_templates(dataset):
        return list(dataset.class_names), class_prompts(dataset, split_templates(dataset, train_templates)[1])
    templates = templates or ["a photo of a {}."]
    bad = [t for t in templates if "{}" not in t]
    if bad:
        raise ValueError(f"a template needs '{{}}' where the class name goes: {bad}")
    classes = classes or dataset.class_names
    if not classes:
        raise ValueError("this dataset has no class names: give them with --classes")
    return list(classes), [[t.replace("{}", c) for t in templates] for c in classes]


def retrieval_captions(dataset: TensorImageDataset, train_templates: int) -> list[str]:
    """The caption each held-out image is retrieved with: the CSV's, or the first held-out template's."""
    if not has_builtin_templates(dataset):
        return [row[0] for row in caption_table(dataset, train_templates)]  # the CSV's captions (or a clear error)
    return render_captions(dataset, split_templates(dataset, train_templates)[1][0])


def image_text_metrics(
    method, tokenizer: CaptionTokenizer, test_set: TensorImageDataset, train_templates: int, mean: tuple[float, ...], std: tuple[float, ...], batch_size: int = 512, device: torch.device | str = "cpu"
) -> dict[str, float]:
    """Zero-shot top-1/top-5 with the held-out templates (built-in data) and retrieval R@k between
    the held-out images and their captions (the first held-out template, or the CSV's captions;
    images that share a caption all count as its match)."""
    images = extract_features(method.image_embedder(), test_set, mean, std, batch_size, device)[0]  # (N, E)
    out: dict[str, float] = {}
    if (test_set.labels >= 0).all():
        classes = zero_shot_classifier(method, tokenizer, zero_shot_prompts(test_set, train_templates)[1], batch_size, device)
        out.update({f"zeroshot_{k}": v for k, v in zero_shot_accuracy(images, classes, test_set.labels).items()})
    captions = retrieval_captions(test_set, train_templates)
    out.update(retrieval_metrics(images, embed_texts(method, tokenizer, captions, batch_size, device), caption_groups(captions)))
    return out
