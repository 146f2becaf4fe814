"""AttnDrop end to end on `shapes`: training, the dense and robustness evaluations, the study."""

import json


from selfsup.cli import main

SHAPES_TINY = [
    "data.name=shapes",
    "data.image_size=16",
    "data.num_images=300",
    "data.batch_size=64",
    "model.backbone=vit_micro",
    "model.global_pool=token",
    "model.patch_size=4",
    "augment.n_local=2",
    "augment.local_size=8",
    "method.out_dim=64",
    "method.hidden_dim=64",
    "method.bottleneck_dim=32",
    "method.patch_out_dim=32",
    "method.decoder_dim=16",
    "method.decoder_depth=1",
    "train.epochs=1",
    "train.progress=false",
    "eval.linear_epochs=3",
]


def test_attndrop_trains_and_evaluates_dense_and_occluded(tmp_path, capsys):
    assert main(["train", "--config", "configs/attndrop_shapes.yaml", *SHAPES_TINY, f"train.out_dir={tmp_path}", "train.run_name=run"]) == 0
    capsys.readouterr()
    assert main(["eval", str(tmp_path / "run"), "--dense", "--robustness"]) == 0
    printed = capsys.readouterr().out
    assert "dense probe: mIoU" in printed and "occlusion_object" in printed
    result = json.loads((tmp_path / "run" / "eval.json").read_text())
    assert 0 < result["dense"]["miou"] <= 100
    assert set(result["robustness"]["occlusion_random"]) == {"0.0", "0.25", "0.5", "0.75"}
    assert (tmp_path / "run" / "robustness.png").stat().st_size > 10_000


def test_attndrop_study_writes_table_claims_and_plot_and_reuses_finished_variants(tmp_path, capsys):
    args = ["study", "attndrop", *SHAPES_TINY, "--out", str(tmp_path), "--variants", "AttnDrop", "no reconstruction", "MAE", "--seeds", "0"]
    assert main(args) == 0
    table = (tmp_path / "table.md").read_text()
    assert all(v in table for v in ("| AttnDrop |", "| no reconstruction |", "| MAE |"))
    claims = (tmp_path / "claims.md").read_text()
    assert "reconstruction makes features robust to occlusion" in claims
    assert "| inconclusive |" in claims  # one seed decides nothing
    assert (tmp_path / "attndrop.png").stat().st_size > 10_000
    rows = json.loads((tmp_path / "results.json").read_text())
    assert [r["variant"] for r in rows] == ["AttnDrop", "no reconstruction", "MAE", "random-init floor", "raw-pixel floor"] and rows[0]["images_per_s"] > 0
    assert all(r["step_ms"] > 0 for r in rows[:3]) and "step ms" in table  # every run's step timed as the benchmark does
    assert rows[0]["speedup"] == rows[0]["step_ms_every_token"] / rows[0]["step_ms"] and "speedup" not in rows[2]  # dropping runs timed again with every token
    line = {row.split(" | ")[0]: row for row in table.splitlines() if row.startswith("| ")}
    assert line["| AttnDrop"].endswith(f"| {rows[0]['speedup']:.2f} |") and line["| MAE"].endswith("| - |")  # the paired ratio beside AttnDrop, none for MAE
    stamp = (tmp_path / "AttnDrop" / "metrics.jsonl").stat().st_mtime
    assert main(args) == 0  # resumes: finished variants are not trained again
    assert (tmp_path / "AttnDrop" / "metrics.jsonl").stat().st_mtime == stamp


def test_study_rejects_unknown_variants_and_a_non_attndrop_preset(tmp_path, capsys):
    assert main(["study", "attndrop", "--variants", "AttnDrop++", "--out", str(tmp_path)]) == 2
    assert "unknown variant" in capsys.readouterr().err
    assert main(["study", "attndrop", "--config", "configs/dino_mnist.yaml", "--out", str(tmp_path)]) == 2
    assert "needs a preset with method.name=attndrop" in capsys.readouterr().err
