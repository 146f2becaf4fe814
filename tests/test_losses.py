import math

import torch
import torch.nn.functional as F

from selfsup.losses import byol_loss, ntxent_loss


def reference_ntxent(z1, z2, t):
    """NT-Xent written out anchor by anchor, as in SimCLR's paper (Alg. 1)."""
    z = F.normalize(torch.cat([z1, z2]), dim=1)
    n = z1.shape[0]
    total, negatives = 0.0, []
    for i in range(2 * n):
        pos = (i + n) % (2 * n)
        others = [k for k in range(2 * n) if k != i]
        negatives.append(len([k for k in others if k != pos]))
        denom = sum(math.exp(float(z[i] @ z[k]) / t) for k in others)
        total += -math.log(math.exp(float(z[i] @ z[pos]) / t) / denom)
    return total / (2 * n), negatives


def test_ntxent_matches_reference_and_uses_2n_minus_2_negatives():
    n = 6
    z1, z2 = torch.randn(n, 8, dtype=torch.float64), torch.randn(n, 8, dtype=torch.float64)
    for t in (0.1, 0.5):
        ref, negatives = reference_ntxent(z1, z2, t)
        assert abs(ntxent_loss(z1, z2, t).item() - ref) < 1e-6
        assert negatives == [2 * (n - 1)] * (2 * n)


def test_ntxent_is_low_for_matching_views_and_high_for_random():
    z = torch.randn(32, 16)
    assert ntxent_loss(z, z + 0.01 * torch.randn_like(z), 0.1) < ntxent_loss(z, torch.randn(32, 16), 0.1) - 1


def test_byol_loss_matches_two_minus_two_cosine():
    p, z = torch.randn(5, 7), torch.randn(5, 7)
    cos = (p / p.norm(dim=1, keepdim=True) * (z / z.norm(dim=1, keepdim=True))).sum(1)
    assert torch.allclose(byol_loss(p, z), (2 - 2 * cos).mean(), atol=1e-6)
    assert byol_loss(p, 3 * p).abs() < 1e-6
    assert torch.allclose(byol_loss(p, -p), torch.tensor(4.0))
