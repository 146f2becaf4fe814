"""DINO, Sinkhorn-Knopp, KoLeo and iBOT losses against references written out here."""

import torch
import torch.nn.functional as F

from selfsup.losses import TeacherTargets, block_masks, cross_entropy_pairs, koleo_loss, masked_patch_loss, sinkhorn_knopp


def reference_dino(student_output, teacher_output, center, n_crops, student_temp, teacher_temp, center_momentum):
    """DINO's DINOLoss.forward as in the paper's code: loop over (teacher crop, student crop) pairs."""
    student_out = (student_output / student_temp).chunk(n_crops)
    teacher_out = F.softmax((teacher_output - center) / teacher_temp, dim=-1).chunk(2)
    total, n_terms = 0.0, 0
    for iq, q in enumerate(teacher_out):
        for v in range(len(student_out)):
            if v == iq:
                continue
            total += torch.sum(-q * F.log_softmax(student_out[v], dim=-1), dim=-1).mean()
            n_terms += 1
    new_center = center * center_momentum + teacher_output.mean(dim=0, keepdim=True) * (1 - center_momentum)
    return total / n_terms, new_center


def test_dino_loss_matches_the_original_formula_with_local_crops():
    b, k = 6, 17
    for n_local in (0, 1, 4):
        n_crops = 2 + n_local
        student = torch.randn(n_crops * b, k, dtype=torch.float64)
        teacher = torch.randn(2 * b, k, dtype=torch.float64)
        targets = TeacherTargets(k, "center", momentum=0.9).double()
        targets.center.copy_(torch.randn(1, k))
        ref, ref_center = reference_dino(student, teacher, targets.center.clone(), n_crops, 0.1, 0.04, 0.9)
        probs = targets(teacher, temp=0.04).view(2, b, k)
        ours = cross_entropy_pairs(probs, student.view(n_crops, b, k), student_temp=0.1)
        assert torch.allclose(ours.double(), ref, atol=1e-5)
        assert torch.allclose(targets.center, ref_center, atol=1e-6)


def test_without_centering_targets_are_the_sharpened_softmax():
    logits = torch.randn(5, 9)
    targets = TeacherTargets(9, "none")
    assert torch.allclose(targets(logits, 0.05), F.softmax(logits / 0.05, dim=-1))
    assert torch.equal(targets.center, torch.zeros(1, 9))


def reference_sinkhorn(teacher_output, teacher_temp, n_iterations=3):
    """DINOv2's SinkhornKnopp teacher, one process."""
    q = torch.exp(teacher_output / teacher_temp).t()
    b, k = q.shape[1], q.shape[0]
    q /= q.sum()
    for _ in range(n_iterations):
        q /= q.sum(dim=1, keepdim=True)
        q /= k
        q /= q.sum(dim=0, keepdim=True)
        q /= b
    q *= b
    return q.t()


def test_sinkhorn_knopp_is_doubly_stochastic_and_matches_reference():
    logits = torch.randn(64, 16, dtype=torch.float64)
    q = sinkhorn_knopp(logits, temp=0.1)
    assert torch.allclose(q.double(), reference_sinkhorn(logits, 0.1), atol=1e-6)
    assert torch.allclose(q.sum(dim=1), torch.ones(64, dtype=q.dtype), atol=1e-5)  # a distribution per sample
    balanced = sinkhorn_knopp(logits, temp=1.0).sum(dim=0)  # prototypes used equally (3 iterations)
    assert torch.allclose(balanced, torch.full((16,), 64 / 16, dtype=q.dtype), rtol=0.05)
    q_long = sinkhorn_knopp(logits, temp=0.1, n_iters=200)  # converges even for peaked logits
    assert torch.allclose(q_long.sum(dim=0), torch.full((16,), 4.0, dtype=q.dtype), rtol=1e-2)


def test_sinkhorn_spreads_a_collapsed_teacher():
    logits = torch.zeros(32, 8)
    logits[:, 0] = 5.0  # every sample votes for prototype 0
    softmax_mass = F.softmax(logits / 0.1, dim=-1).sum(0)
    sk_mass = sinkhorn_knopp(logits + 0.01 * torch.randn(32, 8), temp=0.1).sum(0)
    assert softmax_mass[0] > 31
    assert sk_mass.max() < 32 / 8 * 1.5


def reference_koleo(x):
    x = F.normalize(x, dim=-1, eps=1e-8)
    total = 0.0
    for i in range(len(x)):
        d = min(float(torch.dist(x[i], x[j])) for j in range(len(x)) if j != i)
        total += -torch.log(torch.tensor(d + 1e-8))
    return total / len(x)


def test_koleo_matches_reference_and_prefers_spread_points():
    x = torch.randn(12, 6, dtype=torch.float64)
    assert torch.allclose(koleo_loss(x).double(), reference_koleo(x).double(), atol=1e-5)
    bunched = torch.randn(1, 6) + 0.01 * torch.randn(12, 6)
    assert koleo_loss(bunched) > koleo_loss(x.float()) + 2


def test_block_masks_ratio_within_range_and_fraction_masked():
    torch.manual_seed(0)
    masks = block_masks(200, 8, 8, ratio=(0.1, 0.5), prob=0.5)
    counts = masks.sum(1)
    masked = counts > 0
    assert masked.sum() == 100
    ratios = counts[masked].float() / 64
    assert ratios.min() >= 0.1 - 1 / 64 and ratios.max() <= 0.5 + 1 / 64
    assert ratios.std() > 0.05  # drawn from the range, not one value


def test_block_masks_are_blocks():
    torch.manual_seed(1)
    masks = block_masks(50, 8, 8, ratio=(0.3, 0.3), prob=1.0).view(50, 8, 8).float()
    # A masked cell's 4-neighbourhood is mostly masked too; scattered cells would give ~0.3.
    neighbours = F.conv2d(masks[:, None], torch.tensor([[[[0, 1.0, 0], [1, 0, 1], [0, 1, 0]]]]), padding=1)[:, 0]
    share = (neighbours * masks).sum() / (masks.sum() * 4)
    assert share > 0.5


def test_patch_loss_only_counts_masked_positions():
    b, n, k = 4, 9, 11
    mask = torch.zeros(b, n, dtype=torch.bool)
    mask[0, :3] = True
    mask[2, 5:] = True
    student_all = torch.randn(b, n, k, requires_grad=True)
    teacher_all = F.softmax(torch.randn(b, n, k), dim=-1)
    loss = masked_patch_loss(student_all[mask], teacher_all[mask], mask, student_temp=0.1)
    loss.backward()
    assert (student_all.grad[~mask] == 0).all() and (student_all.grad[mask] != 0).any()
    ce = -(teacher_all * F.log_softmax(student_all.detach() / 0.1, -1)).sum(-1)  # (B, N)
    expected = (ce[0, :3].mean() + ce[2, 5:].mean()) / b
    assert torch.allclose(loss, expected, atol=1e-5)
