"""Token dropping and the MAE pieces: gathering, selection policies, patchify and the decoder."""

import pytest
import torch

from selfsup.losses import reconstruction_loss
from selfsup.models import build_backbone
from selfsup.models.decoder import PixelDecoder, patchify, sincos_pos_embed, unpatchify
from selfsup.models.token_drop import forward_kept, keep_count, kept_mask, select_tokens
from selfsup.models.tokens import embed_tokens, forward_tokens, forward_tokens_and_cls_attention, cls_attention


def _vit():
    return build_backbone("vit_micro", 3, 16, "token", patch_size=2).eval()  # 8 x 8 = 64 patches


def test_kept_tokens_carry_their_own_position_embeddings():
    vit, x = _vit(), torch.randn(3, 3, 16, 16)
    keep = select_tokens(torch.rand(3, 64), 20, "random")
    full = embed_tokens(vit, x)  # (3, 1 + 64, D)
    kept = embed_tokens(vit, x, keep=keep)  # (3, 1 + 20, D)
    assert kept.shape == (3, 21, vit.embed_dim)
    assert torch.equal(kept[:, 0], full[:, 0])
    for i in range(3):
        assert torch.equal(kept[i, 1:], full[i, 1 + keep[i]])
    # keeping every patch is the plain forward pass
    every = torch.arange(64).expand(3, 64)
    assert torch.allclose(forward_tokens(vit, x, keep=every), forward_tokens(vit, x), atol=1e-6)
    scores = torch.rand(3, 64)
    tokens, kept_idx = forward_kept(vit, x, scores, 0.25, "attention")
    assert torch.equal(kept_idx, select_tokens(scores, 16, "attention"))
    assert torch.allclose(tokens, forward_tokens(vit, x, keep=kept_idx))
    tokens, none = forward_kept(vit, x, scores, 1.0, "attention")
    assert none is None and tokens.shape == (3, 65, vit.embed_dim)


def test_selection_policies():
    scores = torch.tensor([[0.1, 0.5, 0.2, 0.9, 0.0, 0.3], [0.6, 0.1, 0.4, 0.2, 0.8, 0.05]])
    assert select_tokens(scores, 3, "attention").tolist() == [[1, 3, 5], [0, 2, 4]]
    assert select_tokens(scores, 2, "low_attention").tolist() == [[0, 4], [1, 5]]
    rnd = select_tokens(torch.zeros(50, 64), 16, "random")
    assert all(len(set(r.tolist())) == 16 for r in rnd) and torch.equal(rnd, rnd.sort(dim=1).values)
    assert len({tuple(r.tolist()) for r in rnd}) == 50  # a fresh draw per image
    assert kept_mask(select_tokens(scores, 3, "attention"), 6).tolist()[0] == [False, True, False, True, False, True]
    assert keep_count(64, 0.5) == 32 and keep_count(16, 0.01) == 1
    with pytest.raises(ValueError, match="keep_ratio"):
        keep_count(64, 0.0)
    with pytest.raises(ValueError, match="unknown token policy 'top'"):
        select_tokens(scores, 2, "top")


def test_attention_top_k_keeps_the_most_teacher_attention():
    vit, x = _vit(), torch.randn(4, 3, 16, 16)
    tokens, attn = forward_tokens_and_cls_attention(vit, x)
    assert torch.allclose(tokens, forward_tokens(vit, x), atol=1e-6)
    assert torch.allclose(attn, cls_attention(vit, x).mean(dim=1), atol=1e-6)
    mass = {p: attn.gather(1, select_tokens(attn, 16, p)).sum(1) for p in ("attention", "random", "low_attention")}
    assert (mass["attention"] >= mass["random"]).all() and (mass["random"] >= mass["low_attention"]).all()
    assert torch.allclose(mass["attention"], attn.topk(16, dim=1).values.sum(1))


def test_patchify_round_trips_and_orders_patches_in_raster_order():
    x = torch.randn(2, 3, 12, 8)
    p = patchify(x, 4)  # (2, 3 * 2, 4 * 4 * 3)
    assert p.shape == (2, 6, 48)
    assert torch.equal(p[:, 3].view(2, 4, 4, 3).permute(0, 3, 1, 2), x[:, :, 4:8, 4:8])  # row 1, col 1
    assert torch.equal(unpatchify(p, 4, (3, 2), 3), x)


def test_decoder_puts_kept_tokens_at_their_positions_and_mask_tokens_elsewhere():
    vit = _vit()
    dec = PixelDecoder.for_vit(vit, dim=16, depth=0, num_heads=2).eval()
    x = torch.randn(2, 3, 16, 16)
    keep = select_tokens(torch.rand(2, 64), 16, "random")
    tokens = forward_tokens(vit, x, keep=keep)
    pred = dec(tokens, keep, (8, 8))
    assert pred.shape == (2, 64, 2 * 2 * 3)
    pos = sincos_pos_embed((8, 8), 16)
    expected_kept = dec.pred(dec.norm(dec.embed(tokens[:, 1:]) + pos[keep]))
    expected_masked = dec.pred(dec.norm(dec.mask_token[0] + pos))  # (64, L)
    dropped = ~kept_mask(keep, 64)
    for i in range(2):
        assert torch.allclose(pred[i, keep[i]], expected_kept[i], atol=1e-5)
        assert torch.allclose(pred[i, dropped[i]], expected_masked[dropped[i]], atol=1e-5)


def test_reconstruction_loss_covers_exactly_the_dropped_patches():
    pred, target = torch.randn(3, 10, 12), torch.randn(3, 10, 12)
    dropped = torch.rand(3, 10) < 0.6
    mean, var = target.mean(-1, keepdim=True), target.var(-1, keepdim=True)
    normed = (target - mean) / (var + 1e-6).sqrt()
    reference = ((pred - normed) ** 2).mean(-1)[dropped].mean()
    assert torch.allclose(reconstruction_loss(pred, target, dropped), reference, atol=1e-6)
    assert torch.allclose(reconstruction_loss(pred, target, dropped, norm_pix=False), ((pred - target) ** 2).mean(-1)[dropped].mean())
    moved = pred.clone()
    moved[~dropped] += 5.0  # kept patches do not count
    assert torch.equal(reconstruction_loss(moved, target, dropped), reconstruction_loss(pred, target, dropped))
    moved[dropped.nonzero()[0].tolist()] += 5.0
    assert reconstruction_loss(moved, target, dropped) > reconstruction_loss(pred, target, dropped)
