"""``model.global_pool``: the pooled feature a ViT preset returns, and its export."""

import json

import timm
import torch
from safetensors import safe_open
from safetensors.torch import load_file

from selfsup.cli import main
from selfsup.models import build_backbone
from selfsup.models.tokens import forward_tokens


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


def test_export_of_a_max_pooled_run_rebuilds_the_same_features(tiny_overrides, tmp_path):
    assert main(["train", *tiny_overrides, "model.global_pool=max"]) == 0
    out = tmp_path / "b.safetensors"
    assert main(["export", str(tmp_path / "run"), "--out", str(out)]) == 0
    with safe_open(str(out), "pt") as f:
        meta = f.metadata()
    kwargs = json.loads(meta["timm_kwargs"])
    assert kwargs["global_pool"] == "max"
    vit = timm.create_model(meta["timm_name"], **kwargs).eval()  # what a user rebuilds from the file alone
    vit.load_state_dict(load_file(out))
    x = torch.randn(2, 1, 16, 16)
    with torch.no_grad():
        tokens = forward_tokens(vit, x)  # (2, 1 + 16, 128)
        assert torch.allclose(vit(x), vit.fc_norm(tokens[:, 1:].max(dim=1).values), atol=1e-5)
