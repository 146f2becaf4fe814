"""The convolutional-stem ViT preset (vitc_micro): timm's token contract, overlapping receptive
fields, and the pieces that read the patch embedding (decoder channels, export spec)."""

import torch
from safetensors.torch import load_file

import selfsup.models
from selfsup.cli import main
from selfsup.models import backbone_spec, build_backbone
from selfsup.models.conv_stem import ConvStemPatchEmbed, image_channels
from selfsup.models.decoder import PixelDecoder
from selfsup.models.tokens import forward_tokens, grid_size, pool


def test_stem_keeps_the_patch_grid_and_matches_timms_forward():
    vit = build_backbone("vitc_micro", 1, 28, "token").eval()
    assert isinstance(vit.patch_embed, ConvStemPatchEmbed)
    for size, n in ((28, 16), (14, 4)):  # 7 px patches: global and local crops
        x = torch.randn(2, 1, size, size)
        tokens = forward_tokens(vit, x)
        assert tokens.shape == (2, 1 + n, 128) and grid_size(vit, x) == (size // 7, size // 7)
        assert torch.allclose(pool(vit, tokens), vit(x), atol=1e-6)


def test_a_token_sees_across_its_patch_border_only_with_the_stem():
    torch.manual_seed(0)
    x = torch.rand(1, 1, 28, 28)
    nudged = x.clone()
    nudged[0, 0, 3, 7] += 1.0  # first column of patch (0, 1), next to patch (0, 0)
    for name, sees in (("vitc_micro", True), ("vit_micro", False)):
        embed = build_backbone(name, 1, 28).patch_embed.eval()
        with torch.no_grad():
            changed = (embed(nudged) - embed(x)).abs().amax(-1)[0]  # (4, 4)
        assert bool(changed[0, 1] > 0)
        assert bool(changed[0, 0] > 1e-6) == sees, name
        assert float(changed[1:].abs().max()) == 0.0  # rows below are out of reach either way


def test_decoder_and_export_spec_know_the_stem():
    vit = build_backbone("vitc_micro", 3, 32)
    assert image_channels(vit.patch_embed) == 3
    assert PixelDecoder.for_vit(vit, 64, 1, 4).pred.out_features == 8 * 8 * 3
    name, kwargs = backbone_spec("vitc_micro", 3, 32)
    assert kwargs["conv_stem"] == {"widths": [16], "overlap": 2} and kwargs["patch_size"] == 8
    rebuilt = build_backbone("vitc_micro", 3, 32)
    rebuilt.load_state_dict(vit.state_dict())
    x = torch.randn(2, 3, 32, 32)
    assert torch.allclose(rebuilt.eval()(x), vit.eval()(x))


def test_export_names_the_builder_that_rebuilds_the_stem(tiny_overrides, tmp_path, capsys):
    assert main(["train", *tiny_overrides, "model.backbone=vitc_micro", "train.max_steps=2"]) == 0
    capsys.readouterr()
    assert main(["export", str(tmp_path / "run"), "--out", str(tmp_path / "b.safetensors")]) == 0
    out = capsys.readouterr().out
    assert "timm.create_model" not in out  # timm alone cannot build the stem
    call = out.split("load with ")[1].split(" then")[0]
    assert call.startswith("selfsup.models.build_backbone('vitc_micro'")
    model = eval(call, {"selfsup": selfsup})
    model.load_state_dict(load_file(str(tmp_path / "b.safetensors")))
