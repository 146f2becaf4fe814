"""The claim studies' rules and variants: each verdict follows from the numbers by the rule the
study states; each variant changes what it says and nothing else; every preset builds."""

import math
from pathlib import Path

import numpy as np
import pytest
import torch
from scipy import stats
import torch.nn as nn

from selfsup.config import BYOLConfig, ModelConfig, load_config
from selfsup.methods import BYOL
from selfsup.methods.base import Batch
from selfsup.models import build_backbone
from selfsup.study import STUDIES, load_study
from selfsup.study.lars import spikes
from selfsup.study.report import gain, summarise, verdict

ROOT = Path(__file__).parents[1]


SEEDS = (0, 1, 2)
NOISE = (-0.3, 0.0, 0.3)  # a per-seed wobble every variant shares: the paired differences are exact


def _by(rows, seeds=SEEDS):
    """Rows (variant, numbers) -> the summarised rows a study's judge receives: each row run at
    ``seeds``, its numbers moved by the same wobble in every variant (paired seeds)."""
    runs = []
    for r in rows:
        for seed in seeds:
            wobble = NOISE[seed % len(NOISE)]
            moved = {k: v + wobble if isinstance(v, float) and k.endswith("_acc") else v for k, v in r.items()}
            runs.append({"seed": seed, "diverged": False, **moved})
    return summarise(runs)


def test_summary_is_mean_and_sample_std_over_seeds_and_counts_divergence():
    rows = [{"variant": "a", "seed": s, "knn_acc": v, "curve": [{"x": v}]} for s, v in enumerate((10.0, 14.0))]
    rows.append({"variant": "a", "seed": 2, "diverged": True, "diverged_step": 5})
    a = summarise(rows)["a"]
    assert a["knn_acc"] == 12.0 and a["std"]["knn_acc"] == pytest.approx(math.sqrt(8)) and a["curve"] == [{"x": 12.0}]
    assert (a["n"], a["diverged"], a["seeds"]) == (2, 1, [0, 1, 2]) and sorted(a["per_seed"]) == [0, 1]


def test_gain_pairs_the_seeds_both_variants_ran():
    rows = [{"variant": v, "seed": s, "knn_acc": x, "linear_acc": x + 2} for v, xs in (("a", (60, 70, 65)), ("b", (55, 57, 61))) for s, x in enumerate(xs)]
    rows.append({"variant": "b", "seed": 3, "knn_acc": 0.0, "linear_acc": 0.0})  # no partner in a: left out
    d = gain(*[summarise(rows)[v] for v in ("a", "b")])
    assert d.by_seed == {0: 5.0, 1: 13.0, 2: 4.0}
    low, high = d.interval
    half = stats.t.ppf(0.975, 2) * np.std([5.0, 13.0, 4.0], ddof=1) / math.sqrt(3)  # the t interval, written out
    assert (low, high) == pytest.approx((22 / 3 - half, 22 / 3 + half))
    assert verdict(d) == "inconclusive"  # the interval [-5.1, 19.8] holds 0


def test_simclr_vs_byol_claims_follow_the_accuracy_drops(tmp_path):
    study = load_study("simclr-vs-byol")
    judge = study.judge

    def rows(simclr_small, byol_small, simclr_weak, byol_weak, seeds=SEEDS):
        acc = {"SimCLR, batch 256": 80, "SimCLR, batch 32": simclr_small, "BYOL, batch 256": 80, "BYOL, batch 32": byol_small, "SimCLR, crop+flip only": simclr_weak, "BYOL, crop+flip only": byol_weak}
        return _by([{"variant": v, "knn_acc": float(a), "linear_acc": float(a), "batch": 256} for v, a in acc.items()], seeds)

    claims = judge(rows(simclr_small=70, byol_small=78, simclr_weak=60, byol_weak=75))
    assert [c["verdict"] for c in claims] == ["held", "held", "held"]
    assert "SimCLR -10.0 points, BYOL -2.0" in claims[0]["evidence"] and "(256 -> 32)" in claims[0]["claim"] and "3 seeds" in claims[0]["evidence"]
    claims = judge(rows(simclr_small=79.5, byol_small=70, simclr_weak=79.5, byol_weak=76))
    assert [c["verdict"] for c in claims] == ["did not hold", "did not hold", "did not hold"]  # the second: inside +-1 point
    assert [c["verdict"] for c in judge(rows(70, 78, 60, 75, seeds=(0, 1)))] == ["inconclusive"] * 3  # two seeds cannot decide
    assert study.plot(rows(70, 78, 60, 75), tmp_path / "plot.png").stat().st_size > 10_000


def test_simclr_vs_byol_variants_scale_batch_lr_and_ema_and_strip_colour():
    study = load_study("simclr-vs-byol")
    base = load_config(ROOT / study.preset)
    names = study.variants(base)
    assert names[:4] == ("SimCLR, batch 256", "SimCLR, batch 128", "SimCLR, batch 64", "SimCLR, batch 32") and len(names) == 10
    small = study.configure(base, "BYOL, batch 64")
    assert small.data.batch_size == 64 and small.optim.lr == pytest.approx(base.optim.lr / 2)  # AdamW: square-root rule
    assert small.method.momentum == pytest.approx(base.method.momentum**0.25)  # the same EMA horizon in images
    simclr = study.configure(base, "SimCLR, batch 256")
    assert simclr.method.name == "simclr" and simclr.augment == base.augment and simclr.optim == base.optim
    weak = study.configure(base, "BYOL, crop+flip only")
    assert weak.augment.jitter_prob == weak.augment.grayscale_prob == 0 and weak.augment.blur_prob == [0.0] and weak.augment.solarize_prob == [0.0]
    assert weak.augment.global_scale == base.augment.global_scale and weak.augment.hflip == base.augment.hflip
    gpu = load_config(ROOT / study.gpu_preset)
    assert study.configure(gpu, "SimCLR, batch 512").optim.lr == pytest.approx(gpu.optim.lr / 8)  # LARS: linear rule


def test_lars_spikes_and_verdict():
    assert spikes([8.0, 7.0, 6.0, 5.9, 5.8]) == []
    assert spikes([8.0, 7.0, 6.0, 7.0, 7.1, 5.5, 6.5]) == [3, 6]  # rises of > 0.8 above the best so far; one count per excursion
    judge = load_study("lars").judge
    stable = {"spikes": 0, "knn_acc": 70.0, "linear_acc": 75.0}
    base = [{"variant": "LARS", **stable}]
    assert judge(_by([{"variant": "SGD, linear LR scaling", "spikes": 2, "knn_acc": 60.0, "linear_acc": 60.0}, *base]))[0]["verdict"] == "held"
    nan = summarise([{"variant": "SGD, linear LR scaling", "seed": 0, "diverged": True, "diverged_step": 7}, {"variant": "LARS", "seed": 0, "diverged": False, **stable}])
    claim = judge(nan)[0]
    assert claim["verdict"] == "held" and "1/1 runs NaN" in claim["evidence"]
    assert judge(_by([{"variant": "SGD, linear LR scaling", **stable}, {"variant": "LARS", **stable, "spikes": 1}]))[0]["verdict"] == "did not hold"
    both_stable = [{"variant": "SGD, linear LR scaling", **stable}, *base]
    assert judge(_by(both_stable))[0]["verdict"] == "did not hold"  # equal accuracy over 3 seeds: equivalent
    assert judge(_by(both_stable, seeds=(0,)))[0]["verdict"] == "inconclusive"  # one seed decides nothing


def test_lars_variants_differ_only_in_the_optimizer():
    study = load_study("lars")
    base = load_config(ROOT / study.preset)
    sgd, lars = (study.configure(base, v) for v in study.variants(base))
    assert (sgd.optim.name, lars.optim.name) == ("sgd", "lars") and sgd.optim.lr == lars.optim.lr == 0.3 * base.data.batch_size / 256
    assert sgd.optim.clip_grad is None and sgd.train.log_every == 1 and sgd.data == lars.data == base.data


def test_byol_collapse_verdicts():
    judge = load_study("byol-collapse").judge
    row = {"chance": 10.0, "rankme": 5.0, "embedding_std": 0.05, "linear_acc": 70.0}
    byol = {"variant": "BYOL", "knn_acc": 70.0, "outcome": "no collapse", **row}
    collapsed = {"variant": "no predictor", **row, "knn_acc": 11.0, "outcome": "collapsed"}
    fine = {"variant": "momentum 0", **row, "knn_acc": 68.0, "outcome": "no collapse"}
    claims = judge(_by([byol, collapsed, fine]))
    assert [c["verdict"] for c in claims] == ["held", "did not hold"]
    assert judge(_by([{**byol, "outcome": "collapsed"}, collapsed]))[0]["verdict"] == "inconclusive"


def test_byol_without_predictor_and_with_momentum_zero():
    model = ModelConfig(proj_hidden=32, proj_dim=16, pred_hidden=32)
    byol = BYOL(build_backbone("vit_micro", 1, 16), BYOLConfig(predictor=False, momentum=0.0, momentum_end=0.0), model, total_steps=10)
    assert isinstance(byol.predictor, nn.Identity)
    opt = torch.optim.SGD(byol.parameters(), lr=0.1)
    out = byol.training_step(Batch([torch.randn(8, 1, 16, 16), torch.randn(8, 1, 16, 16)]), 0)
    out["loss"].backward()
    opt.step()
    byol.on_step_end(0)
    for online, target in zip(byol.backbone.parameters(), byol.target_backbone.parameters()):
        assert torch.equal(online, target)  # momentum 0: the target is an exact copy after every step


@pytest.mark.parametrize("name", list(STUDIES))
def test_every_study_builds_each_variant_from_its_cpu_and_gpu_presets(name):
    study = load_study(name)
    for preset in (study.preset, study.gpu_preset):
        base = load_config(ROOT / preset)
        assert base.method.name == study.method, preset
        for variant in study.variants(base):
            cfg = study.configure(base, variant)
            assert cfg is not base and type(cfg.method).__name__.endswith("Config")
