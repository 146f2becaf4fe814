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
from selfsup.study.floors import RANDOM_INIT, RAW_PIXELS, floor_rows
from selfsup.study.report import NOT_LEARNED, compare, gain, summarise, verdict

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
            runs.append({"seed": seed, "diverged": False, **moved})  # floors move with the seed as runs do
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

    def rows(simclr_small, byol_small, simclr_weak, byol_weak, seeds=SEEDS, shapes_floor=50):
        acc = {"SimCLR, batch 256": 80, "SimCLR, batch 32": simclr_small, "BYOL, batch 256": 80, "BYOL, batch 32": byol_small, "SimCLR, shapes": 80, "SimCLR, shapes, crop+flip only": simclr_weak, "BYOL, shapes": 80, "BYOL, shapes, crop+flip only": byol_weak}
        runs = [{"variant": v, "knn_acc": float(a), "linear_acc": float(a), "batch": 256, **({"colour_knn": 30.0 + a / 10} if "shapes" in v else {})} for v, a in acc.items()]
        return _by([*runs, _floor(50), {**_floor(shapes_floor), "variant": "random-init floor (shapes)"}], seeds)

    claims = judge(rows(simclr_small=70, byol_small=78, simclr_weak=60, byol_weak=75))
    assert [c["verdict"] for c in claims] == ["held", "held", "held"]
    assert "SimCLR -10.0 points, BYOL -2.0" in claims[0]["evidence"] and "(256 -> 32)" in claims[0]["claim"] and "3 seeds" in claims[0]["evidence"]
    assert "on shapes" in claims[2]["claim"] and "colour kNN SimCLR 38.0 -> 36.0, BYOL 38.0 -> 37.5 %" in claims[2]["evidence"]
    claims = judge(rows(simclr_small=79.5, byol_small=70, simclr_weak=79.5, byol_weak=76))
    assert [c["verdict"] for c in claims] == ["did not hold", "did not hold", "did not hold"]  # the second: inside +-1 point
    assert judge(rows(70, 78, 60, 75, shapes_floor=85))[2]["verdict"] == NOT_LEARNED  # the shapes runs face the shapes floor
    assert [c["verdict"] for c in judge(rows(70, 78, 60, 75, seeds=(0, 1)))] == ["inconclusive"] * 3  # two seeds cannot decide
    assert study.plot(rows(70, 78, 60, 75), tmp_path / "plot.png").stat().st_size > 10_000


def test_simclr_vs_byol_variants_scale_batch_lr_and_ema_and_strip_colour_on_shapes():
    study = load_study("simclr-vs-byol")
    base = load_config(ROOT / study.preset)
    names = study.variants(base)
    assert names[:4] == ("SimCLR, batch 256", "SimCLR, batch 128", "SimCLR, batch 64", "SimCLR, batch 32") and len(names) == 12
    small = study.configure(base, "BYOL, batch 64")
    assert small.data.batch_size == 64 and small.optim.lr == pytest.approx(base.optim.lr / 2)  # AdamW: square-root rule
    assert small.method.momentum == pytest.approx(base.method.momentum**0.25)  # the same EMA horizon in images
    simclr = study.configure(base, "SimCLR, batch 256")
    assert simclr.method.name == "simclr" and simclr.augment == base.augment and simclr.optim == base.optim
    full, weak = study.configure(base, "BYOL, shapes"), study.configure(base, "BYOL, shapes, crop+flip only")
    assert full.data.name == weak.data.name == "shapes" and full.train.epochs == 2 * base.train.epochs and full.augment.hue == 0.5
    assert weak.augment.jitter_prob == weak.augment.grayscale_prob == 0 and weak.augment.blur_prob == [0.0] and weak.augment.solarize_prob == [0.0]
    assert weak.augment.global_scale == full.augment.global_scale and weak.augment.hflip == full.augment.hflip and weak.model == full.model
    assert study.floor_groups(base)["shapes"].data == full.data and study.floor_groups(base)["shapes"].model == full.model  # its own floor
    gpu = load_config(ROOT / study.gpu_preset)
    assert study.configure(gpu, "SimCLR, batch 512").optim.lr == pytest.approx(gpu.optim.lr / 8)  # LARS: linear rule


def test_colour_runs_report_the_colour_attribute_knn(tmp_path):
    from selfsup.study.runner import run_study

    study = load_study("simclr-vs-byol")
    base = load_config(None, ["method=byol", "data.image_size=16", "model.backbone=vit_micro", "model.proj_hidden=64", "model.proj_dim=32", "model.pred_hidden=64", "data.batch_size=64", "train.max_steps=2", "train.progress=false", "data.num_images=400", "eval.linear_epochs=2", f"train.out_dir={tmp_path}"])
    rows = run_study(study, base, tmp_path, [0], variants=("BYOL, shapes",))
    run, *floors = rows
    assert 0 < run["colour_knn"] <= 100 and run["colour_knn"] != run["knn_acc"]  # colour, not the shape label
    assert [f["variant"] for f in floors] == ["random-init floor", "raw-pixel floor", "random-init floor (shapes)", "raw-pixel floor (shapes)"]
    assert "| colour kNN % |" in (tmp_path / "table.md").read_text()


def test_lars_spikes_and_verdict():
    assert spikes([8.0, 7.0, 6.0, 5.9, 5.8]) == []
    assert spikes([8.0, 7.0, 6.0, 7.0, 7.1, 5.5, 6.5]) == [3, 6]  # rises of > 0.8 above the best so far; one count per excursion
    judge = load_study("lars").judge
    stable, spiky = {"spikes": 0, "knn_acc": 70.0, "linear_acc": 75.0}, {"spikes": 2, "knn_acc": 60.0, "linear_acc": 60.0}

    def sweep(*states, seeds=SEEDS, floor=50):
        rows = [{"variant": f"{o}, lr {lr:g}", **state} for lr, pair in zip((1.2, 4.8), states) for o, state in zip(("SGD", "LARS"), pair)]
        return judge(_by([*rows, _floor(floor)], seeds))[0]

    claim = sweep((stable, stable), (spiky, stable))
    assert claim["verdict"] == "held" and "lr 4.8: SGD 3/3 unstable" in claim["evidence"] and "failed: lr 4.8" in claim["evidence"]
    assert sweep((stable, stable), (spiky, stable), floor=80)["verdict"] == "inconclusive"  # LARS trains no better than random init
    assert sweep((stable, stable), (stable, stable))["verdict"] == "inconclusive"  # the sweep never made SGD fail
    assert sweep((stable, stable), (spiky, spiky))["verdict"] == "did not hold"  # LARS fails where SGD does
    assert sweep((stable, stable), (spiky, stable), seeds=(0,))["verdict"] == "inconclusive"  # one seed decides nothing
    nan = summarise([{"variant": "SGD, lr 4.8", "seed": s, "diverged": True, "diverged_step": 7} for s in SEEDS] + [{"variant": "LARS, lr 4.8", "seed": s, "diverged": False, **stable} for s in SEEDS])
    claim = judge(nan)[0]
    assert claim["verdict"] == "held" and "3/3 unstable (3 NaN)" in claim["evidence"]


def test_lars_variants_sweep_the_rate_and_differ_only_in_the_optimizer():
    study = load_study("lars")
    base = load_config(ROOT / study.preset)
    names = study.variants(base)
    assert names == ("SGD, lr 1.2", "LARS, lr 1.2", "SGD, lr 4.8", "LARS, lr 4.8", "SGD, lr 19.2", "LARS, lr 19.2")
    assert base.optim.lr == 0.3 * base.data.batch_size / 256  # the linearly scaled rate the sweep starts from
    sgd, lars = (study.configure(base, v) for v in names[2:4])
    assert (sgd.optim.name, lars.optim.name) == ("sgd", "lars") and sgd.optim.lr == lars.optim.lr == 4 * base.optim.lr
    assert sgd.optim.clip_grad is None and sgd.train.log_every == 1 and sgd.data == lars.data == base.data


def _floor(acc):
    return {"variant": RANDOM_INIT, "floor": True, "knn_acc": float(acc), "linear_acc": float(acc)}


def test_a_variant_must_beat_the_random_init_floor_to_win_a_claim():
    rows = [{"variant": "a", "knn_acc": 60.0, "linear_acc": 60.0}, {"variant": "b", "knn_acc": 50.0, "linear_acc": 50.0}]
    assert compare(_by(rows), "a", "b")[1] == "held"  # no floor measured: judged on the difference alone
    assert compare(_by([*rows, _floor(40)]), "a", "b")[1] == "held"
    assert compare(_by([*rows, _floor(60)]), "a", "b")[1] == NOT_LEARNED  # a is no better than an untrained network
    assert compare(_by([*rows, _floor(60)]), "b", "a")[1] == NOT_LEARNED  # b loses to a, which has not learned
    assert compare(_by([*rows, _floor(55)]), "b", "a")[1] == "did not hold"  # a, the winner, beats the floor
    same = [{"variant": v, "knn_acc": 50.0, "linear_acc": 50.0} for v in ("a", "b")]
    assert compare(_by([*same, _floor(45)]), "a", "b")[1] == "did not hold"  # equivalent, both learned
    assert compare(_by([*same, _floor(50)]), "a", "b")[1] == NOT_LEARNED  # equivalent at the floor says nothing
    assert compare(_by([*rows, _floor(40)], seeds=(0, 1)), "a", "b")[1] == "inconclusive"


def test_floors_are_measured_once_per_seed_and_kept(tmp_path):
    cfg = load_config(None, ["data.name=digits", "data.image_size=16", "model.backbone=vit_micro", "eval.linear_epochs=2"])
    rows = floor_rows({"": cfg}, [0, 1], tmp_path)
    assert [(r["variant"], r["seed"]) for r in rows] == [(RANDOM_INIT, 0), (RAW_PIXELS, 0), (RANDOM_INIT, 1), (RAW_PIXELS, 1)]
    assert all(r["floor"] and 10 < r["knn_acc"] <= 100 for r in rows)
    assert rows[0]["knn_acc"] != rows[2]["knn_acc"]  # the seed draws another initialisation
    assert rows[1]["knn_acc"] == rows[3]["knn_acc"]  # raw pixels' kNN has nothing random
    (tmp_path / "floors.jsonl").write_text((tmp_path / "floors.jsonl").read_text().replace(f'"knn_acc": {rows[0]["knn_acc"]}', '"knn_acc": -1.0'))
    assert floor_rows({"": cfg}, [0, 1], tmp_path)[0]["knn_acc"] == -1.0  # read back, not measured again


def test_byol_collapse_needs_a_fallen_measure_and_an_accuracy_at_the_floor():
    judge = load_study("byol-collapse").judge
    byol = {"variant": "BYOL", "knn_acc": 70.0, "linear_acc": 70.0, "rankme": 5.0, "embedding_std": 0.05}
    collapsed = {**byol, "variant": "no predictor", "knn_acc": 41.0, "linear_acc": 45.0, "rankme": 1.0, "embedding_std": 0.01}
    fine = {**byol, "variant": "momentum 0", "knn_acc": 68.0}
    narrowed = {**byol, "variant": "no predictor, momentum 0", "rankme": 1.5}  # dimensional collapse, accuracy above the floor
    claims = judge(_by([byol, collapsed, fine, narrowed, _floor(50)]))
    assert [c["verdict"] for c in claims] == ["held", "did not hold", "inconclusive"]
    assert "not above it" in claims[0]["evidence"] and "x5.00" in claims[0]["evidence"]
    at_floor_unchanged = {**byol, "variant": "no predictor", "knn_acc": 50.0, "linear_acc": 50.0}
    assert judge(_by([byol, at_floor_unchanged, _floor(50)]))[0]["verdict"] == "inconclusive"  # no measure fell
    assert {c["verdict"] for c in judge(_by([byol, collapsed, fine, _floor(70)]))} == {"inconclusive"}  # BYOL itself has not learned
    assert {c["verdict"] for c in judge(_by([byol, collapsed, fine, _floor(50)], seeds=(0, 1)))} == {"inconclusive"}


def test_dino_collapse_claims_need_every_seed_and_the_accuracy_to_agree():
    judge = load_study("dino-collapse").judge
    row = {"teacher_entropy": 2.0, "teacher_batch_entropy": 6.0, "kl": 0.1, "out_dim": 1024, "rankme": 5.0}
    full = {"variant": "centring + sharpening", **row, "knn_acc": 80.0, "linear_acc": 80.0, "outcome": "no collapse"}
    uniform = {"variant": "centring only", **row, "knn_acc": 40.0, "linear_acc": 40.0, "outcome": "uniform collapse"}
    learned_uniform = {**uniform, "variant": "sharpening only", "knn_acc": 80.0, "linear_acc": 80.0}  # expected: one dimension
    claims = judge(_by([full, uniform, learned_uniform, _floor(50)]))
    assert [c["verdict"] for c in claims] == ["held", "held", "did not hold"]
    assert "3/3 uniform collapse" in claims[1]["evidence"]
    assert [c["verdict"] for c in judge(_by([full, uniform, _floor(85)]))] == ["inconclusive", "held"]  # the full run under the floor
    assert {c["verdict"] for c in judge(_by([full, uniform], seeds=(0, 1)))} == {"inconclusive"}


def test_logo_isolates_the_repulsion():
    study = load_study("logo")
    base = load_config(ROOT / study.preset)
    plain, attract, logo = (study.configure(base, v) for v in study.variants(base))
    assert plain.augment == attract.augment == logo.augment == base.augment and base.augment.n_local >= 2  # the same local crops
    assert (plain.method.logo, attract.method.logo, logo.method.logo) == (False, True, True)
    assert attract.method.repel_weight == 0 and logo.method.repel_weight == base.method.repel_weight > 0
    rows = [{"variant": v, "knn_acc": a, "linear_acc": a} for v, a in (("BYOL", 60.0), ("BYOL + local-global", 64.0), ("BYOL + LoGo", 64.2))]
    claims = study.judge(_by([*rows, _floor(50)]))
    assert [c["claim"] for c in claims][1] == "the local-local repulsion improves on local-global attraction alone"
    assert [c["verdict"] for c in claims] == ["held", "did not hold", "held"]  # the repulsion's +0.2: equivalent within 1 point


def test_attndrop_speed_is_the_benchmark_step_time_and_accuracy_is_non_inferior():
    judge = load_study("attndrop").judge

    def rows(full_ms, every_token_ms, keep_acc):
        timed = {"step_ms": full_ms, "step_ms_every_token": every_token_ms, "speedup": every_token_ms / full_ms}
        return [{"variant": "AttnDrop", "knn_acc": 60.0, "linear_acc": 60.0, **timed, "images_per_s": 100.0},
                {"variant": "no dropping (keep 1.0)", "knn_acc": keep_acc, "linear_acc": keep_acc, "step_ms": 100.0, "images_per_s": 200.0}]
    (faster,) = judge(_by([*rows(400.0, 800.0, 60.3), _floor(50)]))
    assert "whole step 2.00x faster (± 0.00; 400 vs 800 ms with every token" in faster["evidence"] and faster["verdict"] == "held"  # neither the runs' img/s (0.5x) nor the keep-1.0 run's own step time, taken at another hour, decides
    assert judge(_by([*rows(800.0, 400.0, 60.3), _floor(50)]))[0]["verdict"] == "did not hold"  # slower: no gain to claim
    assert judge(_by([*rows(400.0, 800.0, 65.0), _floor(50)]))[0]["verdict"] == "did not hold"  # 5 points lost: a cost


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
