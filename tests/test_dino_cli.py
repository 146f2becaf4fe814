"""DINO end to end: training with multi-crop + iBOT, attention maps, and the collapse study."""

import json
import math

import pytest
import torch

from selfsup.cli import main
from selfsup.eval.attention import attention_in_mask
from selfsup.config import load_config
from selfsup.study.dino_collapse import SETTINGS, collapse_kind, setting_config
from selfsup.train.logging import read_metrics

DINO_TINY = [
    "method=dino",
    "method.out_dim=64",
    "method.hidden_dim=64",
    "method.bottleneck_dim=32",
    "method.patch_out_dim=32",
    "model.global_pool=token",
    "augment.n_local=2",
    "augment.local_size=8",
]


@pytest.mark.slow
def test_dinov2_run_logs_collapse_monitors_and_draws_attention(tiny_overrides, tmp_path, capsys):
    args = ["train", *tiny_overrides, *DINO_TINY, "method.ibot_weight=1.0", "method.koleo_weight=0.1", "method.centering=sinkhorn"]
    assert main(args) == 0
    run = tmp_path / "run"
    epoch = [r for r in read_metrics(run / "metrics.jsonl") if r["kind"] == "epoch"][0]
    for key in ("teacher_entropy", "teacher_batch_entropy", "kl", "ibot_loss", "koleo_loss"):
        assert math.isfinite(epoch[key]), key
    assert 0 < epoch["teacher_entropy"] <= math.log(64) + 1e-4
    capsys.readouterr()

    assert main(["attention", str(run), "--out", str(tmp_path / "attn"), "--num", "10"]) == 0
    grids = sorted((tmp_path / "attn").glob("attention_*.png"))
    assert [g.name for g in grids] == ["attention_00.png", "attention_01.png"]
    assert grids[0].stat().st_size > 5000
    assert "grids" in json.loads((tmp_path / "attn" / "attention.json").read_text())


def test_attention_on_object_share():
    masks = torch.zeros(2, 8, 8)
    masks[:, :4, :4] = 1  # the object fills the top-left quarter
    on_object = torch.zeros(2, 3, 4, 4)
    on_object[:, :, 0, 0] = 1.0  # all attention on a patch inside the object
    uniform = torch.full((2, 3, 4, 4), 1 / 16)
    inside, area = attention_in_mask(on_object, masks)
    assert torch.allclose(inside, torch.ones(2)) and torch.allclose(area, torch.full((2,), 0.25))
    assert torch.allclose(attention_in_mask(uniform, masks)[0], area)


def test_collapse_kinds():
    k = 1024
    assert collapse_kind(0.97 * math.log(k), math.log(k), k) == "uniform collapse"
    assert collapse_kind(0.01, 0.2, k) == "one dimension dominates"
    assert collapse_kind(2.0, 6.5, k) == "no collapse"


def test_collapse_study_settings(tmp_path):
    base = load_config("configs/dino_mnist.yaml")
    cfgs = {name: setting_config(base, name) for name in SETTINGS}
    assert [c.method.centering for c in cfgs.values()] == ["center", "center", "none", "none"]
    for name, cfg in cfgs.items():
        sharpened = cfg.method.teacher_temp < cfg.method.student_temp
        assert sharpened == ("sharpening" in name)
        assert not cfg.method.use_bn_in_head  # BatchNorm would centre by itself
        assert cfg.method.koleo_weight == 0  # KoLeo would spread the features by itself
    assert base.method.use_bn_in_head and base.method.centering == "center"  # the base is not modified


@pytest.mark.slow
def test_collapse_study_writes_table_and_plot(tmp_path, capsys):
    from .conftest import TINY

    out = tmp_path / "study"
    args = ["study", "dino-collapse", "--config", "configs/dino_mnist.yaml", "--epochs", "1", "--seeds", "0", "--out", str(out), *TINY, *DINO_TINY, "train.eval_every=1"]
    assert main(args) == 0
    table = (out / "table.md").read_text()
    for name in ("centring + sharpening", "centring only", "sharpening only", "neither"):
        assert name in table
    assert (out / "collapse.png").stat().st_size > 10000
    rows = json.loads((out / "results.json").read_text())
    # Without centring, sharpening concentrates the teacher on fewer prototypes than with it.
    by = {r["variant"]: r for r in rows}
    assert by["sharpening only"]["teacher_batch_entropy"] < by["centring + sharpening"]["teacher_batch_entropy"]
