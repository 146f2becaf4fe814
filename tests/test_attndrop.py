"""AttnDrop and MAE as methods: which tokens the student sees, which terms each switch turns on,
that keep_ratio=1.0 is DINO plus patch distillation, and that no gradient reaches the teacher."""

import pytest
import torch
import torch.nn.functional as F

from selfsup.config import AttnDropConfig, DINOConfig, MAEConfig, ModelConfig, OptimConfig
from selfsup.methods import DINO, MAE, AttnDrop
from selfsup.models import build_backbone
from selfsup.models.tokens import forward_tokens, patch_tokens
from selfsup.train.optim import build_optimizer
from selfsup.methods.base import Batch

SMALL = {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16, "patch_out_dim": 48, "decoder_dim": 16, "decoder_depth": 1, "decoder_heads": 2}


def _backbone():
    return build_backbone("vit_micro", 1, 16, "token", patch_size=4)  # 4 x 4 = 16 patches


def _attndrop(**kw):
    return AttnDrop(_backbone(), AttnDropConfig(**{**SMALL, **kw}), ModelConfig(), total_steps=20, steps_per_epoch=5)


def _views(b=4, n_local=2):
    return [torch.randn(b, 1, 16, 16) for _ in range(2)] + [torch.randn(b, 1, 8, 8) for _ in range(n_local)]


def test_student_sees_the_kept_tokens_and_no_gradient_reaches_the_teacher():
    m = _attndrop(keep_ratio=0.25)
    seen = []
    m.backbone.blocks[0].register_forward_hook(lambda mod, inp, out: seen.append(tuple(inp[0].shape)))
    out = m.training_step(Batch(_views()), step=0)
    out["loss"].backward()
    assert seen == [(8, 1 + 4, m.backbone.embed_dim), (8, 1 + 4, m.backbone.embed_dim)]  # global views at 1/4 + the local views in full
    assert {"dino_loss", "patch_loss", "recon_loss", "kept_attention", "teacher_entropy"} <= out.keys()
    assert 0.25 < out["kept_attention"] <= 1.0  # top-k holds more than its share of the attention
    assert all(p.grad is None and not p.requires_grad for p in m.teacher.parameters())
    for part in (m.backbone.patch_embed.proj.weight, m.head.mlp[0].weight, m.patch_head.mlp[0].weight, m.decoder.pred.weight):
        assert part.grad is not None and part.grad.abs().sum() > 0


def test_switches_turn_their_parts_off():
    assert _attndrop(keep_ratio=1.0).decoder is None
    assert _attndrop(w_recon=0.0).decoder is None
    m = _attndrop(w_patch=0.0)
    assert not hasattr(m, "patch_head") and len(m.teacher) == 2
    out = m.training_step(Batch(_views()), 0)
    assert "patch_loss" not in out and "recon_loss" in out
    out = _attndrop(keep_ratio=1.0).training_step(Batch(_views()), 0)
    assert "recon_loss" not in out and "kept_attention" not in out
    with pytest.raises(ValueError, match="drop_policy 'best'"):
        _attndrop(drop_policy="best")
    with pytest.raises(ValueError, match="keep_ratio"):
        _attndrop(keep_ratio=1.5)
    with pytest.raises(ValueError, match="needs a ViT"):
        AttnDrop(build_backbone("resnet18_cifar", 1, 16), AttnDropConfig(**SMALL), ModelConfig(), total_steps=2)


def test_keep_all_is_dino_plus_patch_distillation_over_every_patch():
    torch.manual_seed(1)
    dino_cfg = {k: v for k, v in SMALL.items() if not k.startswith("decoder")}
    dino = DINO(_backbone(), DINOConfig(**dino_cfg), ModelConfig(), total_steps=20)
    m = _attndrop(keep_ratio=1.0, w_patch=0.0)
    m.load_state_dict(dino.state_dict())
    views = _views()
    ours, ref = m.training_step(Batch(views), 0), dino.training_step(Batch(views), 0)
    for key in ("dino_loss", "teacher_entropy", "kl"):
        assert torch.allclose(ours[key], ref[key], atol=1e-6), key
    assert torch.allclose(ours["loss"], ref["loss"], atol=1e-6)

    m = _attndrop(keep_ratio=1.0, centering="none")
    out = m.training_step(Batch(views), 0)
    g = torch.cat(views[:2])
    with torch.no_grad():
        t = F.softmax(m.teacher[2](patch_tokens(m.teacher[0], forward_tokens(m.teacher[0], g)).flatten(0, 1)) / m.patch_teacher_temp(0), dim=-1)
        s = F.log_softmax(m.patch_head(patch_tokens(m.backbone, forward_tokens(m.backbone, g)).flatten(0, 1)) / 0.1, dim=-1)
    assert torch.allclose(out["patch_loss"], -(t * s).sum(-1).mean(), atol=1e-5)
    assert torch.allclose(out["loss"], out["dino_loss"] + out["patch_loss"], atol=1e-6)


def _train(m, views, steps, term):  # noqa: ANN001, ANN202
    """``steps`` AdamW steps on one fixed batch; the method's last output and ``term`` per step."""
    opt = build_optimizer(OptimConfig(lr=3e-3, weight_decay=0.0), [m])
    losses = []
    for i in range(steps):
        opt.zero_grad()
        out = m.training_step(Batch(views), i)
        out["loss"].backward()
        opt.step()
        m.on_step_end(i)
        losses.append(out[term].item())
    return out, losses


def test_attndrop_loss_falls_on_a_fixed_batch():
    _, losses = _train(_attndrop(keep_ratio=0.5, freeze_last_layer_epochs=0), _views(b=16), 15, "recon_loss")
    assert losses[-1] < 0.8 * losses[0]


def test_mae_masks_three_quarters_and_learns_to_reconstruct():
    m = MAE(_backbone(), MAEConfig(decoder_dim=16, decoder_depth=1, decoder_heads=2), ModelConfig(), total_steps=20)
    seen = []
    m.backbone.blocks[0].register_forward_hook(lambda mod, inp, out: seen.append(inp[0].shape[1]))
    out, losses = _train(m, [torch.randn(16, 1, 16, 16)], 25, "loss")
    assert set(seen) == {1 + 4}  # [CLS] + a quarter of 16 patches
    assert out["features"].shape == (16, m.backbone.embed_dim)
    assert losses[-1] < 0.8 * losses[0]
    with pytest.raises(ValueError, match="mask_ratio"):
        MAE(_backbone(), MAEConfig(mask_ratio=1.0), ModelConfig(), total_steps=2)
    with pytest.raises(ValueError, match="n_local=0"):
        m.training_step(Batch([torch.randn(2, 1, 16, 16), torch.randn(2, 1, 8, 8)]), 0)
