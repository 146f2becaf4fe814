"""DINO / DINOv2 method properties and the ViT token adapters."""

import torch
import torch.nn.functional as F

from selfsup.config import DINOConfig, ModelConfig, OptimConfig
from selfsup.methods import DINO
from selfsup.models import build_backbone
from selfsup.models.tokens import block_attention, cls_attention, embed_tokens, forward_tokens, last_block_attention
from selfsup.train.optim import build_optimizer
from selfsup.methods.base import Batch

SMALL = {"out_dim": 64, "hidden_dim": 32, "bottleneck_dim": 16, "patch_out_dim": 48}


def _method(steps_per_epoch=5, **kw):
    cfg = DINOConfig(**{**SMALL, **kw})
    return DINO(build_backbone("vit_micro", 1, 16, "token"), cfg, ModelConfig(), total_steps=20, steps_per_epoch=steps_per_epoch)


def _views(b=4, n_global=2, n_local=3):
    return [torch.randn(b, 1, 16, 16) for _ in range(n_global)] + [torch.randn(b, 1, 8, 8) for _ in range(n_local)]


def test_no_gradient_reaches_the_teacher_and_any_crop_count_works():
    m = _method(ibot_weight=1.0, koleo_weight=0.1)
    for n_global, n_local in ((2, 0), (2, 4), (3, 5)):
        m.zero_grad()
        out = m.training_step(Batch(_views(n_global=n_global, n_local=n_local)), step=0)
        out["loss"].backward()
        assert all(p.grad is None and not p.requires_grad for p in m.teacher.parameters())
        assert m.backbone.patch_embed.proj.weight.grad.abs().sum() > 0
        assert m.mask_token.grad is not None
        assert {"dino_loss", "ibot_loss", "koleo_loss", "teacher_entropy", "kl"} <= out.keys()


def test_teacher_sees_only_global_views():
    m = _method()
    sizes = []
    m.teacher[0].patch_embed.register_forward_hook(lambda mod, inp, out: sizes.append(tuple(inp[0].shape)))
    m.training_step(Batch(_views(b=4, n_global=2, n_local=3)), step=0)
    assert sizes == [(8, 1, 16, 16)]


def test_last_layer_is_frozen_during_the_first_epoch():
    m = _method(steps_per_epoch=3, ibot_weight=1.0, norm_last_layer=False)
    opt = build_optimizer(OptimConfig(lr=1e-2), [m])
    frozen = [p.detach().clone() for p in m.last_layers()]
    first_mlp = m.head.mlp[0].weight.detach().clone()

    def step(i):
        opt.zero_grad()
        m.training_step(Batch(_views()), i)["loss"].backward()
        m.before_optimizer_step(i)
        opt.step()
        m.on_step_end(i)

    for i in range(3):
        step(i)
    assert all(torch.equal(a, p) for a, p in zip(frozen, m.last_layers()))
    assert not torch.equal(first_mlp, m.head.mlp[0].weight)
    step(3)
    assert not torch.equal(frozen[0], m.last_layers()[0])


def test_norm_last_layer_keeps_unit_row_norms():
    m = _method(norm_last_layer=True)
    layer = m.head.last_layer
    assert not layer.g.requires_grad
    weight = layer.g * F.normalize(layer.v, dim=1)
    assert torch.allclose(weight.norm(dim=1), torch.ones(weight.shape[0]), atol=1e-6)


def test_teacher_temperature_warms_up_and_momentum_rises():
    m = _method(steps_per_epoch=2, warmup_teacher_temp_epochs=2)
    assert [round(m.teacher_temp(s), 4) for s in (0, 2, 4, 10)] == [0.04, 0.055, 0.07, 0.07]
    assert m.momentum(0) == 0.996 and m.momentum(20) == 1.0


def test_token_adapters_match_timm_and_put_mask_tokens_only_where_masked():
    vit = build_backbone("vit_micro", 1, 16, "token").eval()
    x = torch.randn(3, 1, 16, 16)
    assert torch.allclose(forward_tokens(vit, x), vit.forward_features(x), atol=1e-6)
    mask = torch.zeros(3, 16, dtype=torch.bool)
    mask[0, [1, 5]] = True
    token = torch.randn(vit.embed_dim)
    plain, masked = embed_tokens(vit, x), embed_tokens(vit, x, mask, token)
    changed = (plain != masked).any(-1)[:, 1:]  # (B, N) patch positions that changed
    assert torch.equal(changed, mask)
    pos = vit.pos_embed[0, 1:]
    assert torch.allclose(masked[0, 2], token + pos[1], atol=1e-6)


def test_attention_rows_sum_to_one_and_reproduce_the_block():
    vit = build_backbone("vit_micro", 1, 16, "token").eval()
    x = torch.randn(2, 1, 16, 16)
    attn = last_block_attention(vit, x)  # (B, heads, T, T)
    assert attn.shape == (2, 4, 17, 17)
    assert torch.allclose(attn.sum(-1), torch.ones(2, 4, 17), atol=1e-5)
    t = embed_tokens(vit, x)
    for block in vit.blocks[:-1]:
        t = block(t)
    block = vit.blocks[-1]
    a = block_attention(block, t)
    qkv = block.attn.qkv(block.norm1(t)).reshape(2, 17, 3, 4, 32).permute(2, 0, 3, 1, 4)
    by_hand = block.attn.proj((a @ qkv[2]).transpose(1, 2).reshape(2, 17, 128))
    assert torch.allclose(by_hand, block.attn(block.norm1(t)), atol=1e-5)
    cls = cls_attention(vit, x)
    assert cls.shape == (2, 4, 16) and (cls.sum(-1) <= 1 + 1e-6).all()
