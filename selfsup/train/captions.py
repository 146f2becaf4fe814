"""The caption side of a run: the tokenizer is trained on the training captions at the start
(and reloaded on resume), saved beside the checkpoint, and the captions' token ids travel with
the training images."""

from __future__ import annotations

from pathlib import Path

from ..config import Config
from ..data import TensorImageDataset
from ..data.captions import caption_table
from ..text import CaptionTokenizer
from ..text.pretrained import minilm_tokenizer
from .distributed import is_main

TOKENIZER = "tokenizer.json"


def attach_captions(cfg: Config, train_set: TensorImageDataset, run_dir: Path, resume: bool) -> CaptionTokenizer:
    """Set ``train_set.text`` (N, T, L): token ids of each image's T training captions."""
    table = caption_table(train_set, cfg.data.train_templates)  # N lists of T captions
    flat = [c for row in table for c in row]
    path = run_dir / TOKENIZER
    if resume and path.is_file():
        tokenizer = CaptionTokenizer.load(path)
    elif getattr(cfg.method, "text_tower", "scratch") == "minilm":
        tokenizer = minilm_tokenizer()  # the pretrained tower reads its own vocabulary
        if is_main():
            tokenizer.save(path)
    else:
        tokenizer = CaptionTokenizer.train(flat, cfg.method.vocab_size)  # deterministic: every process gets the same one
        if is_main():
            tokenizer.save(path)
    length = cfg.method.context_length
    train_set.text = tokenizer.encode(flat, length).view(len(table), len(table[0]), length)
    return tokenizer


def load_tokenizer(run_dir: Path) -> CaptionTokenizer:
    path = run_dir / TOKENIZER
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is an image-text run without its tokenizer ({path})")
    return CaptionTokenizer.load(path)
