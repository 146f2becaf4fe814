"""The text side of image-text learning: a tokenizer (Hugging Face ``tokenizers``, trained on
the captions offline) and a causal text transformer."""

from .encoder import TextTransformer
from .tokenizer import CaptionTokenizer, TextSpec

__all__ = ["CaptionTokenizer", "TextSpec", "TextTransformer"]
