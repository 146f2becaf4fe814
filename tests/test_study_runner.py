"""The studies' shared runner and report: a tiny real study (BYOL's collapse ablation on digits, a
few steps a run) resumes without re-running, appends results, adds seeds, and `selfsup report`
gathers it; a run whose loss becomes NaN is a result, not a crash."""

import json
import math

from selfsup.cli import main
from selfsup.config import load_config
from selfsup.study import load_study
from selfsup.study.floors import RANDOM_INIT, RAW_PIXELS
from selfsup.study.runner import run_name, run_study

from .conftest import TINY

STEPS = [*TINY, "train.max_steps=3"]
TWO_RUNS = ["--variants", "BYOL", "no predictor"]


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_grid_resumes_appends_adds_seeds_and_reports(tmp_path, capsys):
    out = tmp_path / "study_byol_collapse"
    args = ["study", "byol-collapse", *TWO_RUNS, "--seeds", "0", "--out", str(out), *STEPS]
    assert main(args) == 0
    assert [r["variant"] for r in _lines(out / "results.jsonl")] == ["BYOL", "no predictor"]
    assert (out / "BYOL" / "result.json").is_file() and (out / "no_predictor" / "result.json").is_file()
    stamp = (out / "BYOL" / "metrics.jsonl").stat().st_mtime_ns
    assert main(args) == 0  # everything finished: nothing is trained or appended again
    assert (out / "BYOL" / "metrics.jsonl").stat().st_mtime_ns == stamp
    assert len(_lines(out / "results.jsonl")) == 2
    assert main([*args, "optim.lr=0.5"]) == 2  # a finished run is never reused for another config
    assert "trained with another config (optim.lr: 0.001 -> 0.5)" in capsys.readouterr().err

    assert main([*args, "--seeds", "0", "1"]) == 0  # seed 0 is reused, seed 1 trains in its own folders
    assert [(r["variant"], r["seed"]) for r in _lines(out / "results.jsonl")][2:] == [("BYOL", 1), ("no predictor", 1)]
    assert (out / "BYOL-seed1" / "result.json").is_file()
    table = (out / "table.md").read_text()
    assert "over 2 seeds" in table and table.count(" ± ") >= 6  # kNN, linear, std, RankMe for two variants
    rows = json.loads((out / "results.json").read_text())
    knn = [r["knn_acc"] for r in rows if r["variant"] == "BYOL"]
    mean = f"{sum(knn) / 2:.1f} ± {math.sqrt((knn[0] - knn[1]) ** 2 / 2):.1f}"
    assert f"| BYOL | {mean} |" in table
    meta = json.loads((out / "study.json").read_text())
    assert meta["seeds"] == [0, 1] and meta["name"] == "byol-collapse" and "--seeds 0 1" in meta["command"]
    floors = [(r["variant"], r["seed"]) for r in rows if r.get("floor")]
    assert floors == [(RANDOM_INIT, 0), (RAW_PIXELS, 0), (RANDOM_INIT, 1), (RAW_PIXELS, 1)]  # measured for each seed
    assert "| random-init floor |" in table and "| raw-pixel floor |" in table
    assert "without the predictor BYOL collapses" in (out / "claims.md").read_text()
    assert (out / "byol_collapse.png").stat().st_size > 10_000

    capsys.readouterr()
    assert main(["report", str(tmp_path), "--out", str(tmp_path / "docs")]) == 0
    report = (tmp_path / "docs" / "report.md").read_text()
    assert "## What keeps BYOL from collapsing" in report and "without the predictor BYOL collapses" in report
    assert "| BYOL | " + mean in report and "Seeds: 0, 1" in report and "Runs: 4;" in report
    assert "](study_byol_collapse/byol_collapse.png)" in report
    assert "Not in this report (no rows under this rule yet; `selfsup study NAME` runs one): simclr-vs-byol, lars, dino-collapse, attndrop, logo." in report
    assert (tmp_path / "docs" / "study_byol_collapse" / "byol_collapse.png").stat().st_size > 10_000
    assert main(["report", str(tmp_path / "docs")]) == 0  # from the copied rows alone, the same report
    assert (tmp_path / "docs" / "report.md").read_text() == report
    assert main(["report", str(tmp_path / "docs"), str(tmp_path)]) == 2  # several folders: the report needs --out
    assert "several folders need --out" in capsys.readouterr().err
    assert main(["report", str(tmp_path / "docs"), str(tmp_path), "--out", str(tmp_path / "merged")]) == 0
    assert (tmp_path / "merged" / "report.md").read_text() == report  # the same study from either folder


def test_study_all_runs_every_study_then_the_report(tmp_path, capsys, monkeypatch):
    import selfsup.study

    monkeypatch.setattr(selfsup.study, "STUDIES", {"byol-collapse": "one study, to keep the test short"})
    assert main(["study", "all", "--seeds", "0", "--out", str(tmp_path), *STEPS]) == 0
    printed = capsys.readouterr().out
    assert f"[1/1] study byol-collapse -> {tmp_path / 'study_byol_collapse'}" in printed
    assert len(_lines(tmp_path / "study_byol_collapse" / "results.jsonl")) == 4 and "## What keeps BYOL" in (tmp_path / "report.md").read_text()
    assert main(["study", "all", "--variants", "BYOL", "--out", str(tmp_path)]) == 2
    assert "--config and --variants name one study's" in capsys.readouterr().err


def test_a_finished_training_without_result_is_evaluated_not_retrained(tmp_path):
    study = load_study("byol-collapse")
    base = load_config(None, [*STEPS, "method=byol"])
    run_study(study, base, tmp_path, [0], variants=("BYOL",))
    (tmp_path / "BYOL" / "result.json").unlink()  # as if the study stopped between training and evaluation
    stamp = (tmp_path / "BYOL" / "metrics.jsonl").stat().st_mtime_ns
    rows = run_study(study, base, tmp_path, [0], variants=("BYOL",))
    assert (tmp_path / "BYOL" / "metrics.jsonl").stat().st_mtime_ns == stamp and rows[0]["knn_acc"] > 0


def test_diverged_runs_are_recorded_and_the_grid_goes_on(tmp_path):
    study = load_study("lars")
    base = load_config(None, [*TINY, "method=simclr", "optim.name=lars", "optim.lr=1e30", "optim.warmup_epochs=0", "train.max_steps=4"])
    first_rate = study.variants(base)[:2]  # SGD and LARS
    rows = [r for r in run_study(study, base, tmp_path, [0], variants=first_rate) if not r.get("floor")]
    assert [r["variant"] for r in rows] == list(first_rate)  # the first run's NaN did not stop the grid
    for r in rows:
        assert r["diverged"] and r["diverged_step"] >= 1 and len(r["loss_curve"]) == r["diverged_step"]
        assert (tmp_path / run_name(r["variant"]) / "result.json").is_file()
    table = (tmp_path / "table.md").read_text()
    assert "| SGD, lr 1e+30 | diverged | diverged |" in table and "| LARS, lr 1e+30 | diverged | diverged |" in table
    assert "LARS 1/1 unstable (1 NaN) | inconclusive |" in (tmp_path / "claims.md").read_text()  # one seed decides nothing


def test_a_run_that_failed_before_training_starts_again_with_a_corrected_config(tmp_path, capsys):
    args = ["study", "byol-collapse", "--variants", "BYOL", "--out", str(tmp_path), *STEPS]
    assert main([*args, "data.name=folder", f"data.path={tmp_path / 'missing'}"]) == 2
    assert "missing" in capsys.readouterr().err and not (tmp_path / "BYOL").exists()  # nothing learned, nothing left
    assert main(args) == 0 and (tmp_path / "BYOL" / "result.json").is_file()


def test_report_names_what_is_missing(tmp_path, capsys):
    assert main(["report", str(tmp_path)]) == 2
    assert "no study under" in capsys.readouterr().err
