"""Caption templates for the built-in data, so image-text models train on some phrasings and
are tested on others (held-out templates), and class prompts for zero-shot classification."""

from __future__ import annotations

import itertools
import string

from .base import DataError, TensorImageDataset
from .shapes import BACKGROUNDS, COLOURS, SHAPES, SIZES

SHAPES_TEMPLATES = (
    "a {size} {colour} {shape} on a {background} background",
    "a photo of a {size} {colour} {shape}",
    "a {colour} {shape} in front of a {background} pattern",
    "there is a {size} {shape} coloured {colour}",
    "an image of a {colour} {shape} , {size} , on {background}",
)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
# The last two recombine words of the first five in new phrasings: a from-scratch tokenizer
# and text tower cannot know words its training captions never used.
DIGIT_TEMPLATES = (
    "a photo of the number: {word}",
    "a handwritten {word}",
    "the digit {digit}",
    "an image of the number {word}",
    "a {word} written by hand",
    "a photo of a handwritten {word}",
    "the handwritten number {word}",
)


def _is_digits(dataset: TensorImageDataset) -> bool:
    return dataset.class_names == [str(d) for d in range(10)]


def has_builtin_templates(dataset: TensorImageDataset) -> bool:
    """``shapes`` and the digit datasets caption themselves from templates; other data brings captions."""
    return dataset.attributes is not None or _is_digits(dataset)


def templates_for(dataset: TensorImageDataset) -> tuple[str, ...]:
    if dataset.attributes is not None:
        return SHAPES_TEMPLATES
    if _is_digits(dataset):
        return DIGIT_TEMPLATES
    raise DataError("built-in caption templates exist for `shapes` and the digit datasets (mnist, digits); give other data a CSV of captions")


def render_captions(dataset: TensorImageDataset, template: str) -> list[str]:
    """One caption per image from ``template``: shapes fill {size} {colour} {shape} {background}
    from each image's attributes, digits fill {word} and {digit} from its label."""
    if dataset.attributes is not None:
        colours, sizes = list(COLOURS), list(SIZES)
        return [
            template.format(shape=SHAPES[s], colour=colours[c], size=sizes[z], background=BACKGROUNDS[b])
            for s, c, z, b in dataset.attributes.tolist()
        ]
    templates_for(dataset)  # digits, or a clear error
    return [template.format(word=DIGIT_WORDS[y], digit=y) for y in dataset.labels.tolist()]


def split_templates(dataset: TensorImageDataset, train_templates: int) -> tuple[tuple[str, ...], tuple[str, ...]]:
    """The built-in templates that caption training images and the held-out rest."""
    templates = templates_for(dataset)
    if not 1 <= train_templates < len(templates):
        raise DataError(f"data.train_templates is {train_templates}; it must be 1..{len(templates) - 1} so that templates are left for held-out tests ({len(templates)} exist)")
    return templates[:train_templates], templates[train_templates:]


def caption_table(dataset: TensorImageDataset, train_templates: int) -> list[list[str]]:
    """Each image's training captions (N lists of T): its CSV caption, or the first
    ``train_templates`` built-in templates rendered for it."""
    if not has_builtin_templates(dataset):
        if dataset.captions is None:
            raise DataError("this dataset has no captions: use `shapes`, `mnist`, `digits` or a CSV of image paths and captions (data.name=csv)")
        return [[c] for c in dataset.captions]
    per_template = [render_captions(dataset, t) for t in split_templates(dataset, train_templates)[0]]
    return [list(row) for row in zip(*per_template)]


def class_prompts(dataset: TensorImageDataset, templates: tuple[str, ...]) -> list[list[str]]:
    """Zero-shot prompts, one list per class: each template with the class filled in and every
    other field ({size}, {colour}, {background} of ``shapes``) expanded over all its values."""
    if dataset.attributes is not None:
        values = {"size": list(SIZES), "colour": list(COLOURS), "background": list(BACKGROUNDS)}
        prompts = []
        for shape in SHAPES:
            rows = []
            for t in templates:
                fields = sorted({f for _, f, _, _ in string.Formatter().parse(t) if f and f != "shape"})
                rows += [t.format(shape=shape, **dict(zip(fields, combo))) for combo in itertools.product(*(values[f] for f in fields))]
            prompts.append(rows)
        return prompts
    templates_for(dataset)  # digits, or a clear error
    return [[t.format(word=DIGIT_WORDS[d], digit=d) for t in templates] for d in range(10)]
