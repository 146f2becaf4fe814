"""Captioning evaluation on ``shapes``: the colour, shape and size words of a generated caption
against the image's true attributes."""

from __future__ import annotations

import re

import torch
from torch import Tensor

from ..augment import eval_transform
from ..data import TensorImageDataset
from ..data.shapes import COLOURS, SHAPES, SIZES
from ..text import CaptionTokenizer

ATTRIBUTES = {"shape": list(SHAPES), "colour": list(COLOURS), "size": list(SIZES)}  # columns 0, 1, 2 of ``attributes``


@torch.no_grad()
def generate_captions(
    method, tokenizer: CaptionTokenizer, dataset: TensorImageDataset, mean: tuple[float, ...], std: tuple[float, ...], beam_size: int = 1, batch_size: int = 256, device: torch.device | str = "cpu"
) -> list[str]:
    was_training = method.training
    method.eval()
    captions: list[str] = []
    for start in range(0, len(dataset), batch_size):
        images = eval_transform(dataset.images[start : start + batch_size].to(device), mean, std)
        captions += tokenizer.decode(method.generate(images, beam_size=beam_size).cpu())
    method.train(was_training)
    return captions


def caption_accuracy(captions: list[str], attributes: Tensor) -> dict[str, float]:
    """Per attribute: % of captions that name the true value (a caption naming none, or
    another, counts as wrong) and % that name any value (``_stated``: a template without
    {size} names none); ``all``: % naming all three correctly."""
    words = [set(re.findall(r"[a-z]+", c.lower())) for c in captions]
    correct, out = {}, {}
    for column, (name, values) in enumerate(ATTRIBUTES.items()):
        truth = attributes[:, column].tolist()
        correct[name] = [values[t] in w and not (w & set(values)) - {values[t]} for w, t in zip(words, truth)]
        out[f"caption_{name}_acc"] = 100.0 * sum(correct[name]) / len(captions)
        out[f"caption_{name}_stated"] = 100.0 * sum(bool(w & set(values)) for w in words) / len(captions)
    out["caption_all_acc"] = 100.0 * sum(all(h) for h in zip(*correct.values())) / len(captions)
    return out
