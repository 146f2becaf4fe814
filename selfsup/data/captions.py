"""Caption templates for the built-in data, so image-text models train on some phrasings and
are tested on others (held-out templates), and class prompts for zero-shot classification."""

from __future__ import annotations

from .base import TensorImageDataset
from .shapes import BACKGROUNDS, COLOURS, SHAPES, SIZES

SHAPES_TEMPLATES = (
    "a {size} {colour} {shape} on a {background} background",
    "a photo of a {size} {colour} {shape}",
    "a {colour} {shape} in front of a {background} pattern",
    "there is a {size} {shape} coloured {colour}",
    "an image of a {colour} {shape} , {size} , on {background}",
)
DIGIT_WORDS = ("zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine")
DIGIT_TEMPLATES = (
    "a photo of the number: {word}",
    "a handwritten {word}",
    "the digit {digit}",
    "an image of the number {word}",
    "a {word} written by hand",
)


def templates_for(dataset: TensorImageDataset) -> tuple[str, ...]:
    if dataset.attributes is not None:
        return SHAPES_TEMPLATES
    if dataset.class_names == [str(d) for d in range(10)]:
        return DIGIT_TEMPLATES
    raise ValueError("built-in caption templates exist for `shapes` and the digit datasets (mnist, digits); give other data a CSV of captions")


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
