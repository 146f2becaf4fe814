"""The caption side of a run: the tokenizer is trained on the training captions at the start
(and reloaded on resume), saved beside the checkpoint, and the captions' token ids travel with
the training images."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from torch import Tensor

from ..config import Config
from ..data import DataError, ShardImages
from ..data.captions import caption_table
from ..text import CaptionTokenizer
from ..text.pretrained import minilm_tokenizer
from ..core.distributed import barrier, is_main

TOKENIZER = "tokenizer.json"


TOKENIZER_CAPTIONS = 200_000  # shards: the tokenizer is trained on the first captions, up to this many


def _encode_one(tokenizer: CaptionTokenizer, length: int, caption: str) -> Tensor:
    return tokenizer.encode([caption], length)  # (1, L): one caption per image


def attach_captions(cfg: Config, train_set, run_dir: Path, resume: bool) -> CaptionTokenizer:  # noqa: ANN001 - any dataset
    """Set ``train_set.text`` (N, T, L): token ids of each image's T training captions; for shards,
    whose captions are read with their images, the encoder the loader workers apply to each."""
    shards = isinstance(train_set, ShardImages)
    table = [[c] for c in train_set.read_captions(TOKENIZER_CAPTIONS)] if shards else caption_table(train_set, cfg.data.train_templates)  # N lists of T captions
    flat = [c for row in table for c in row]
    if shards and not flat:
        raise DataError(f"wds: the shards hold no captions (txt members) for {cfg.method.name} to train on")
    path = run_dir / TOKENIZER
    if resume and path.is_file():
        tokenizer = CaptionTokenizer.load(path)
    elif getattr(cfg.method, "text_tower", "scratch") == "minilm":
        tokenizer = minilm_tokenizer()  # the pretrained tower reads its own vocabulary
        if is_main():
            tokenizer.save(path)
    else:
        # BPE training breaks frequency ties in hash order, so runs (and processes) can differ:
        # the first process trains and saves the tokenizer, the others read its file.
        if is_main():
            CaptionTokenizer.train(flat, cfg.method.vocab_size).save(path)
        barrier()
        tokenizer = CaptionTokenizer.load(path)
    length = cfg.method.context_length
    if shards:
        train_set.encode_caption = partial(_encode_one, tokenizer, length)
    else:
        train_set.text = tokenizer.encode(flat, length).view(len(table), len(table[0]), length)
    return tokenizer


def load_tokenizer(run_dir: Path) -> CaptionTokenizer:
    path = run_dir / TOKENIZER
    if not path.is_file():
        raise FileNotFoundError(f"{run_dir} is an image-text run without its tokenizer ({path})")
    return CaptionTokenizer.load(path)
