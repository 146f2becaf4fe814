"""LoGo on BYOL: the repulsion's gradient clip, the affinity regressor, and what gets gradients."""

import pytest
import torch

from selfsup.config import BYOLConfig, ModelConfig
from selfsup.losses import AffinityRegressor, affinity_gap, clip_repulsion
from selfsup.methods import BYOL
from selfsup.models import build_backbone
from selfsup.methods.base import Batch

MODEL = ModelConfig(proj_hidden=32, proj_dim=16, pred_hidden=32)


def _logo(**kw):
    return BYOL(build_backbone("vit_micro", 1, 16), BYOLConfig(logo=True, affinity_hidden=32, **kw), MODEL, total_steps=10)


def _views(b=8, n_local=2):
    return [torch.randn(b, 1, 16, 16) for _ in range(2)] + [torch.randn(b, 1, 8, 8) for _ in range(n_local)]


def test_repulsion_gradient_is_clipped_to_the_ratio_of_the_attraction_gradient():
    z = torch.randn(6, 4, requires_grad=True)
    a, b = torch.randn(6, 4), torch.randn(6, 4)
    attract = (z * a).sum()
    for weight, clipped in ((100.0, True), (1e-4, False)):
        repel, scale = clip_repulsion(attract, weight * (z * b).sum(), z, ratio=0.5)
        (g,) = torch.autograd.grad(repel, z)
        if clipped:
            assert scale < 1 and torch.allclose(g.norm(), 0.5 * a.norm(), rtol=1e-5)
        else:
            assert scale == 1 and torch.allclose(g, weight * b)


def test_logo_step_gradients_go_where_they_should():
    m = _logo(repel_weight=1e3)
    out = m.training_step(Batch(_views()), 0)
    out["loss"].backward()
    assert {"local_global_loss", "repel_loss", "repel_scale", "affinity_gap"} <= out.keys()
    assert 0 < out["repel_scale"] < 1  # a thousandfold repulsion is clipped
    assert all(p.grad is None for p in [*m.target_backbone.parameters(), *m.target_projector.parameters()])
    assert all(p.grad is not None and p.grad.abs().sum() > 0 for p in m.affinity.parameters())
    # the repulsion moves the embeddings, never the regressor
    z1, z2 = torch.randn(4, 16, requires_grad=True), torch.randn(4, 16)
    m.affinity.zero_grad()
    m.affinity.frozen(z1, z2).sum().backward()
    assert all(p.grad is None for p in m.affinity.parameters()) and z1.grad.abs().sum() > 0
    with pytest.raises(ValueError, match="n_local >= 2"):
        m.training_step(Batch(_views(n_local=1)), 0)


def test_affinity_regressor_learns_to_score_same_image_pairs_higher():
    torch.manual_seed(0)
    f = AffinityRegressor(8, hidden=32)
    opt = torch.optim.Adam(f.parameters(), lr=1e-2)
    images = torch.randn(64, 8)
    z1, z2 = images + 0.1 * torch.randn(64, 8), images + 0.1 * torch.randn(64, 8)  # two local views of each image
    start = affinity_gap(f, z1, z2).item()
    for _ in range(100):
        opt.zero_grad()
        (-affinity_gap(f, z1, z2)).backward()
        opt.step()
    gap = affinity_gap(f, z1, z2).item()
    assert gap > start + 0.5 and gap > 0.5
    assert torch.allclose(f(z1, z2), f(z2, z1))  # symmetric


def test_logo_study_compares_byol_with_and_without_logo(tiny_overrides, tmp_path, capsys):
    from selfsup.cli import main

    tiny = [o for o in tiny_overrides if not o.startswith(("train.out_dir", "train.run_name"))]
    assert main(["study", "logo", *tiny, "augment.local_size=8", "--seeds", "0", "--out", str(tmp_path)]) == 0
    printed = capsys.readouterr().out
    assert "| BYOL |" in printed and "| BYOL + LoGo |" in printed and "LoGo improves BYOL's features" in printed
    assert (tmp_path / "logo.png").stat().st_size > 10_000
    from selfsup.train.logging import read_metrics

    epoch = [r for r in read_metrics(tmp_path / "BYOL_LoGo" / "metrics.jsonl") if r["kind"] == "epoch"][-1]
    assert 0 < epoch["repel_scale"] <= 1 and "affinity_gap" in epoch
    assert main(["study", "logo", "--config", "configs/dino_mnist.yaml", "--out", str(tmp_path / "x")]) == 2
    assert "needs a preset with method.name=byol" in capsys.readouterr().err
