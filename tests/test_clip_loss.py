"""CLIP's loss: against a loop reference, its closed-form gradient against autograd, the scale clamp."""

import math

import torch
import torch.nn.functional as F

from selfsup.losses import LogitScale, clip_loss, clip_loss_grad


def _reference(x, y, scale):
    """Per pair: -log softmax over texts for each image, and over images for each text."""
    u, v = [t / t.norm(dim=1, keepdim=True) for t in (x, y)]
    n, total = len(x), 0.0
    for i in range(n):
        sims_i = torch.stack([scale * (u[i] @ v[j]) for j in range(n)])
        sims_t = torch.stack([scale * (v[i] @ u[j]) for j in range(n)])
        total += -(sims_i[i] - torch.logsumexp(sims_i, 0)) - (sims_t[i] - torch.logsumexp(sims_t, 0))
    return total / (2 * n)


def test_clip_loss_matches_the_reference():
    x, y = torch.randn(6, 5, dtype=torch.float64), torch.randn(6, 5, dtype=torch.float64)
    assert torch.allclose(clip_loss(x, y, 7.5), _reference(x, y, 7.5), atol=1e-10)
    aligned = torch.randn(6, 5)
    assert clip_loss(aligned, aligned, 100.0) < 0.01 < clip_loss(aligned, torch.randn(6, 5), 100.0)


def test_closed_form_gradient_equals_autograd():
    for n, d, scale in ((5, 3, 1.0), (8, 16, 14.3), (32, 64, 100.0)):
        x = torch.randn(n, d, dtype=torch.float64, requires_grad=True)
        y = (x.detach() + 0.5 * torch.randn(n, d, dtype=torch.float64)).requires_grad_(True)
        gx, gy = torch.autograd.grad(clip_loss(x, y, scale), [x, y])
        cx, cy = clip_loss_grad(x.detach(), y.detach(), scale)
        assert torch.allclose(cx, gx, atol=1e-5) and torch.allclose(cy, gy, atol=1e-5)
        assert (cx * x).sum(dim=1).abs().max() < 1e-10  # normalisation: no gradient along x itself


def test_logit_scale_starts_at_one_over_007_and_is_clamped_at_100():
    scale = LogitScale()
    assert math.isclose(scale().item(), 1 / 0.07, rel_tol=1e-6)
    with torch.no_grad():
        scale.log_scale.fill_(10.0)
    assert math.isclose(scale().item(), 100.0, rel_tol=1e-6)
    F.mse_loss(scale(), torch.tensor(0.0)).backward()
    assert scale.log_scale.grad == 0  # past the clamp the scale stops moving up or down
