"""``model.global_pool``: the pooled feature a ViT preset returns, and its export."""

import json

import torch

from selfsup.cli import main
from selfsup.models import build_backbone
from selfsup.models.tokens import forward_tokens
from selfsup.train.runs import load_run

from .conftest import rebuild_exported


def test_max_pool_is_the_normalised_per_channel_max_over_patch_tokens():
    torch.manual_seed(0)
    vit = build_backbone("vit_micro", 3, 32, "max").eval()
    x = torch.randn(4, 3, 32, 32)
    with torch.no_grad():
        tokens = forward_tokens(vit, x)  # (4, 1 + 16, 128): [CLS] + 8 px patches
        expected = vit.fc_norm(tokens[:, vit.num_prefix_tokens :].max(dim=1).values)
        assert torch.allclose(vit(x), expected, atol=1e-5)
        vit.global_pool = "avg"
        assert not torch.allclose(vit(x), expected, atol=1e-2)


def test_export_of_a_max_pooled_run_rebuilds_the_runs_features(tiny_overrides, tmp_path):
    assert main(["train", *tiny_overrides, "model.global_pool=max", "train.max_steps=2"]) == 0
    out = tmp_path / "b.safetensors"
    assert main(["export", str(tmp_path / "run"), "--out", str(out)]) == 0
    rebuilt, meta = rebuild_exported(out)
    assert json.loads(meta["timm_kwargs"])["global_pool"] == "max"
    encoder = load_run(tmp_path / "run").encoder().eval()
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        assert torch.allclose(rebuilt(x), encoder(x), atol=1e-5)
