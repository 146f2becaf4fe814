"""A byte-pair-encoding tokenizer trained on the run's own captions with Hugging Face
``tokenizers`` (no download: the vocabulary comes from the data), saved beside the run."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

import torch
from tokenizers import Tokenizer, decoders, models, normalizers, pre_tokenizers, trainers
from torch import Tensor

PAD, SOT, EOT, UNK = "<pad>", "<start_of_text>", "<end_of_text>", "<unk>"
SPECIALS = ((PAD, SOT, EOT), ("[PAD]", "[CLS]", "[SEP]"))  # ours; a BERT WordPiece vocabulary (the pretrained tower's)


@dataclass(frozen=True)
class TextSpec:
    """What a text network needs to know about the tokenizer (kept in the run's checkpoint)."""

    vocab_size: int
    context_length: int
    pad_id: int
    sot_id: int
    eot_id: int


class CaptionTokenizer:
    """Captions -> token ids (B, context_length): <start_of_text> tokens <end_of_text>, then
    padding (id 0). Lower-cased, split on whitespace and punctuation, BPE within words.
    It also wraps a BERT tokenizer ([CLS] ... [SEP], [PAD]) for the pretrained text tower."""

    def __init__(self, tokenizer: Tokenizer) -> None:
        self.tokenizer = tokenizer
        tokenizer.no_padding()  # encode() pads and truncates itself
        tokenizer.no_truncation()
        names = next((n for n in SPECIALS if all(tokenizer.token_to_id(t) is not None for t in n)), None)
        if names is None:
            raise ValueError(f"the tokenizer has none of the special-token sets {SPECIALS} (padding, start, end)")
        self.pad_id, self.sot_id, self.eot_id = (tokenizer.token_to_id(t) for t in names)

    @classmethod
    def train(cls, captions: Iterable[str], vocab_size: int = 1000) -> CaptionTokenizer:
        tok = Tokenizer(models.BPE(unk_token=UNK, continuing_subword_prefix="##"))
        tok.normalizer = normalizers.Sequence([normalizers.NFKC(), normalizers.Lowercase()])
        tok.pre_tokenizer = pre_tokenizers.BertPreTokenizer()
        tok.decoder = decoders.WordPiece(prefix="##")
        trainer = trainers.BpeTrainer(vocab_size=vocab_size, special_tokens=[PAD, SOT, EOT, UNK], continuing_subword_prefix="##", show_progress=False)
        tok.train_from_iterator(captions, trainer)
        return cls(tok)

    @classmethod
    def load(cls, path: str | Path) -> CaptionTokenizer:
        return cls(Tokenizer.from_file(str(path)))

    def save(self, path: str | Path) -> None:
        self.tokenizer.save(str(path))

    @property
    def vocab_size(self) -> int:
        return self.tokenizer.get_vocab_size()

    def spec(self, context_length: int) -> TextSpec:
        return TextSpec(self.vocab_size, context_length, self.pad_id, self.sot_id, self.eot_id)

    def encode(self, captions: list[str], context_length: int) -> Tensor:
        """(B, context_length) long; a caption too long keeps its first tokens and still ends in <end_of_text>."""
        out = torch.full((len(captions), context_length), self.pad_id, dtype=torch.long)
        for i, enc in enumerate(self.tokenizer.encode_batch(captions, add_special_tokens=False)):
            ids = [self.sot_id, *enc.ids[: context_length - 2], self.eot_id]
            out[i, : len(ids)] = torch.tensor(ids)
        return out

    def decode(self, ids: Tensor) -> list[str]:
        """Token ids (B, L) -> text up to each row's first <end_of_text>, special tokens dropped."""
        texts = []
        for row in ids.tolist():
            row = row[: row.index(self.eot_id)] if self.eot_id in row else row
            texts.append(self.tokenizer.decode(row, skip_special_tokens=True))
        return texts
