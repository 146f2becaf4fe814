"""CoCa and the prefix-LM captioner: attention masks, the [CLS] text embedding, decoding."""

import math

import pytest
import torch

from selfsup.config import CoCaConfig, ModelConfig, PrefixLMConfig
from selfsup.eval.captioning import caption_accuracy
from selfsup.methods import CoCa, PrefixLM, build_method
from selfsup.methods.base import Batch
from selfsup.models import build_backbone
from selfsup.models.tokens import image_tokens
from selfsup.text import TextSpec, TextTransformer
from selfsup.text.generate import generate
from selfsup.text.masks import prefix_lm

SPEC = TextSpec(vocab_size=40, context_length=12, pad_id=0, sot_id=1, eot_id=2)
SMALL = dict(context_length=12, text_width=32, text_layers=2, text_heads=2, embed_dim=16)


def _ids(b=3, length=10):
    ids = torch.randint(4, SPEC.vocab_size, (b, length))
    ids[:, 0] = SPEC.sot_id
    ids[:, -1] = SPEC.eot_id
    return ids


@pytest.mark.parametrize("backbone", ["vit_micro", "resnet_micro"])
def test_coca_logits_never_see_a_later_caption_token(backbone):
    m = CoCa(build_backbone(backbone, 1, 16), CoCaConfig(**SMALL, multimodal_layers=2, caption_queries=4), ModelConfig(), 1, text=SPEC).eval()
    queries = m.caption_pooler(image_tokens(m.backbone, torch.randn(3, 1, 16, 16))[0])
    ids = _ids()
    with torch.no_grad():
        base = m.decode(queries, m.unimodal.tokens(ids))  # (B, L, V)
        for k in (3, 7):
            changed = ids.clone()
            changed[:, k] = (changed[:, k] + 1 - 4) % (SPEC.vocab_size - 4) + 4
            out = m.decode(queries, m.unimodal.tokens(changed))
            assert torch.allclose(out[:, :k], base[:, :k], atol=1e-5)  # positions before k: untouched
            assert (out[:, k:] - base[:, k:]).abs().amax() > 1e-4  # positions from k on: do see it


def test_cls_embedding_sees_every_token_but_not_the_padding_length():
    m = TextTransformer(SPEC.vocab_size, SPEC.eot_id, 16, 32, 2, 2, 8, cls_token=True, pad_id=SPEC.pad_id).eval()
    ids = torch.cat([_ids(2, 8), torch.zeros(2, 2, dtype=torch.long)], dim=1)  # captions + padding
    longer = torch.cat([ids, torch.zeros(2, 5, dtype=torch.long)], dim=1)
    with torch.no_grad():
        emb = m(ids)
        assert torch.allclose(m(longer), emb, atol=1e-5)
        first = ids.clone()
        first[:, 1] = 5 if first[0, 1] != 5 else 6
        assert (m(first) - emb).abs().amax() > 1e-4  # the [CLS] reads the whole caption


def test_prefix_lm_mask():
    allowed = prefix_lm(2, torch.tensor([2]), 4)[0]  # [img img | t0 t1 t2 t3], prefix t0 t1
    expected = torch.tensor(
        [
            [1, 1, 1, 1, 0, 0],  # image tokens see the image and the prefix
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 0, 0],  # t0 sees the whole prefix (bidirectional)
            [1, 1, 1, 1, 0, 0],
            [1, 1, 1, 1, 1, 0],  # t2 (predicted part): causal
            [1, 1, 1, 1, 1, 1],
        ],
        dtype=torch.bool,
    )
    assert torch.equal(allowed, expected)


def test_prefix_lm_predictions_never_see_a_later_caption_token():
    m = PrefixLM(build_backbone("vit_micro", 1, 16), PrefixLMConfig(**SMALL), ModelConfig(), 1, text=SPEC).eval()
    image = m.image_context(torch.randn(3, 1, 16, 16))
    ids, prefix = _ids(), torch.full((3,), 4)
    with torch.no_grad():
        base = m.logits(image, ids, prefix)
        later = ids.clone()
        later[:, 6] = (later[:, 6] + 1 - 4) % (SPEC.vocab_size - 4) + 4
        out = m.logits(image, later, prefix)
        assert torch.allclose(out[:, :6], base[:, :6], atol=1e-5)
        in_prefix = ids.clone()
        in_prefix[:, 3] = (in_prefix[:, 3] + 1 - 4) % (SPEC.vocab_size - 4) + 4
        out = m.logits(image, in_prefix, prefix)
        assert (out[:, 0] - base[:, 0]).abs().amax() > 1e-4  # the prefix is read in both directions


def _scripted(table):
    """next_logits that looks up the next-token distribution by the last token."""

    def next_logits(ctx, ids):
        out = torch.full((len(ids), SPEC.vocab_size), -30.0)
        for row, last in enumerate(ids[:, -1].tolist()):
            for token, p in table.get(last, {SPEC.eot_id: 1.0}).items():
                out[row, token] = math.log(p)
        return out

    return next_logits


def test_generate_stops_at_end_of_text_and_beam_search_beats_greedy():
    # After <sot>: 5 (0.6) or 6 (0.4). After 5: ten equally likely tokens, then end. After 6: end.
    table = {SPEC.sot_id: {5: 0.6, 6: 0.4}, 5: {t: 0.1 for t in range(10, 20)}, 6: {SPEC.eot_id: 1.0}}
    ctx = torch.zeros(2, 1)
    greedy = generate(_scripted(table), ctx, SPEC, max_len=12)
    assert greedy.shape[1] < 12  # stopped once every caption had ended, not at max_len
    assert greedy[0, :2].tolist() == [SPEC.sot_id, 5] and SPEC.eot_id in greedy[0].tolist()
    beam = generate(_scripted(table), ctx, SPEC, max_len=12, beam_size=3)
    assert beam[0].tolist()[:3] == [SPEC.sot_id, 6, SPEC.eot_id]  # log 0.4 beats log 0.6 + log 0.1
    assert (beam[:, 3:] == SPEC.pad_id).all()  # after end-of-text only padding


def test_generated_ids_of_a_model_end_in_end_of_text_and_never_hold_start_or_padding_inside():
    m = CoCa(build_backbone("vit_micro", 1, 16), CoCaConfig(**SMALL, caption_queries=4), ModelConfig(), 1, text=SPEC).eval()
    ids = m.generate(torch.randn(4, 1, 16, 16), beam_size=2)
    for row in ids.tolist():
        body = row[1 : row.index(SPEC.eot_id)] if SPEC.eot_id in row else row[1:]
        assert SPEC.sot_id not in body and SPEC.pad_id not in body


@pytest.mark.parametrize("name", ["coca", "prefix_lm"])
def test_captioners_training_loss_falls(name):
    cfg = {"coca": CoCaConfig(**SMALL, caption_queries=4), "prefix_lm": PrefixLMConfig(**SMALL)}[name]
    m = build_method(cfg, build_backbone("vit_micro", 1, 16), ModelConfig(), 10, text=SPEC)
    opt = torch.optim.AdamW(m.parameters(), lr=2e-3)
    batch = Batch([torch.randn(8, 1, 16, 16)], _ids(8))
    losses = []
    for step in range(6):
        out = m.training_step(batch, step)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        losses.append(out["loss"].item())
    assert losses[-1] < losses[0] * 0.9
    assert out["features"].shape == (8, 128) and not out["features"].requires_grad


def test_image_text_methods_need_the_tokenizer_spec():
    with pytest.raises(ValueError, match="TextSpec"):
        build_method(CoCaConfig(**SMALL), build_backbone("vit_micro", 1, 16), ModelConfig(), 1)


def test_caption_accuracy_reads_shape_colour_and_size_words():
    attrs = torch.tensor([[0, 0, 0, 0], [1, 1, 2, 0], [2, 2, 1, 0]])  # circle red small; square green large; triangle blue medium
    caps = ["a small red circle on a plain background", "a green square", "a medium red triangle"]
    acc = caption_accuracy(caps, attrs)
    assert acc["caption_shape_acc"] == 100.0
    assert acc["caption_colour_acc"] == pytest.approx(200 / 3)  # the third names the wrong colour
    assert acc["caption_size_acc"] == pytest.approx(200 / 3)  # the second names no size
    assert acc["caption_all_acc"] == pytest.approx(100 / 3)
    assert acc["caption_size_stated"] == pytest.approx(200 / 3) and acc["caption_colour_stated"] == 100.0
