"""The caption tokenizer and the causal text transformer."""

import torch

from selfsup.data.shapes import generate_shapes
from selfsup.text import CaptionTokenizer, TextTransformer


def _tokenizer():
    return CaptionTokenizer.train(generate_shapes(100, 16)["captions"], vocab_size=200)


def test_tokenizer_round_trips_and_marks_start_end_and_padding(tmp_path):
    tok = _tokenizer()
    caps = ["a small red triangle on a striped background", "A LARGE blue circle"]
    ids = tok.encode(caps, 16)
    assert ids.shape == (2, 16) and (ids[:, 0] == tok.sot_id).all()
    assert tok.decode(ids) == [caps[0], "a large blue circle"]
    for row in ids:
        end = int((row == tok.eot_id).nonzero()[0])
        assert (row[end + 1 :] == tok.pad_id).all() and (row[1:end] != tok.pad_id).all()
    short = tok.encode(caps, 5)  # truncated, still ends in end-of-text
    assert (short[:, -1] == tok.eot_id).all() and tok.decode(short)[0] == "a small red"
    tok.save(tmp_path / "tokenizer.json")
    assert torch.equal(CaptionTokenizer.load(tmp_path / "tokenizer.json").encode(caps, 16), ids)


def test_text_transformer_is_causal_and_pools_at_end_of_text():
    tok = _tokenizer()
    m = TextTransformer(tok.vocab_size, tok.eot_id, context_length=16, width=32, layers=2, heads=2, out_dim=8).eval()
    ids = tok.encode(["a small red triangle on a striped background"], 16)
    changed = ids.clone()
    changed[0, 5:] = torch.randint(4, tok.vocab_size, (11,))
    with torch.no_grad():
        a, b = m.tokens(ids), m.tokens(changed)
    assert torch.allclose(a[:, :5], b[:, :5], atol=1e-6) and not torch.allclose(a[:, 5:], b[:, 5:])  # no position sees a later one
    padded = ids.clone()
    end = int((ids[0] == tok.eot_id).nonzero()[0])
    padded[0, end + 1 :] = 7  # whatever follows end-of-text does not reach the embedding
    assert torch.allclose(m(ids), m(padded), atol=1e-6)
    assert torch.allclose(m(ids), m.proj(m.tokens(ids)[:, end]), atol=1e-6)
