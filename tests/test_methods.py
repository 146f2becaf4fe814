import torch

from selfsup.config import BYOLConfig, ModelConfig, SimCLRConfig
from selfsup.methods import BYOL, SimCLR
from selfsup.models import build_backbone
from selfsup.core.ema import EMA
from selfsup.methods.base import Batch

MODEL = ModelConfig(proj_hidden=32, proj_dim=16, pred_hidden=32)


def views(b=16):
    return [torch.randn(b, 1, 16, 16), torch.randn(b, 1, 16, 16)]


def test_no_gradient_reaches_byol_target_and_ema_moves_it():
    m = BYOL(build_backbone("vit_micro", 1, 16), BYOLConfig(momentum=0.9), MODEL, total_steps=10)
    out = m.training_step(Batch(views()), 0)
    out["loss"].backward()
    target = list(m.target_backbone.parameters()) + list(m.target_projector.parameters())
    assert all(p.grad is None and not p.requires_grad for p in target)
    assert m.backbone.patch_embed.proj.weight.grad is not None and m.predictor[0].weight.grad is not None
    with torch.no_grad():
        for p in m.backbone.parameters():
            p.add_(1.0)
    before = m.target_backbone.patch_embed.proj.weight.clone()
    online = m.backbone.patch_embed.proj.weight.detach().clone()
    m.on_step_end(0)  # momentum(0) = 0.9
    assert torch.allclose(m.target_backbone.patch_embed.proj.weight, 0.9 * before + 0.1 * online, atol=1e-6)


def test_byol_momentum_schedule_ends_at_one():
    m = BYOL(build_backbone("vit_micro", 1, 16), BYOLConfig(momentum=0.99), MODEL, total_steps=100)
    assert m.momentum(0) == 0.99 and m.momentum(100) == 1.0 and 0.99 < m.momentum(50) < 1.0


def test_ema_copies_buffers():
    a, b = torch.nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    a.running_mean.fill_(2.0)
    EMA([(a, b)]).update(0.5)
    assert torch.equal(b.running_mean, a.running_mean)


def test_simclr_loss_falls_on_a_fixed_batch():
    torch.manual_seed(0)
    m = SimCLR(build_backbone("vit_micro", 1, 16), SimCLRConfig(temperature=0.2), MODEL, total_steps=10)
    x = torch.randn(32, 1, 16, 16)
    batch = [x, x + 0.1 * torch.randn_like(x)]
    opt = torch.optim.AdamW(m.parameters(), lr=1e-3)
    losses = []
    for step in range(8):
        out = m.training_step(Batch(batch), step)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < losses[0] - 0.3
    assert out["features"].shape == (32, 128) and not out["features"].requires_grad


def test_bf16_autocast_step_is_finite_and_reaches_the_backbone():
    m = SimCLR(build_backbone("vit_micro", 1, 16), SimCLRConfig(), MODEL, total_steps=10)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = m.training_step(Batch(views()), 0)
    out["loss"].backward()
    assert torch.isfinite(out["loss"]) and out["loss"].dtype == torch.float32
    assert m.backbone.blocks[0].attn.qkv.weight.grad.abs().sum() > 0
