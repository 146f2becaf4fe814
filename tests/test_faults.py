"""Fault injection through the real command line, each in a subprocess: broken YAML, bad counts,
hostile and damaged checkpoints, a read-only folder, a full disk, kill -9 mid-run. Each failure
must be one line naming the file or key, with no traceback, no temporary file left and the
previous checkpoint byte-identical."""

import json
import os
import pickle
import resource
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from selfsup.cli import main

TINY = ["data.name=digits", "data.image_size=16", "data.batch_size=64", "model.backbone=vit_micro", "model.proj_hidden=32", "model.proj_dim=16",
        "train.progress=false", "eval.linear_epochs=1", "train.log_every=1"]


def selfsup(*args: str, limit_file_bytes: int | None = None, timeout: int = 300) -> subprocess.CompletedProcess:
    def limit() -> None:
        if limit_file_bytes is not None:
            resource.setrlimit(resource.RLIMIT_FSIZE, (limit_file_bytes, limit_file_bytes))

    return subprocess.run([sys.executable, "-m", "selfsup.cli", *args], capture_output=True, text=True, timeout=timeout, preexec_fn=limit)


def assert_one_line_error(res: subprocess.CompletedProcess, *names: str) -> str:
    assert res.returncode == 2, res.stderr[-2000:]
    assert "Traceback" not in res.stderr, res.stderr[-2000:]
    errors = [line for line in res.stderr.splitlines() if line.startswith("selfsup: error: ")]
    assert len(errors) == 1, res.stderr
    for name in names:
        assert name in errors[0], errors[0]
    return errors[0]


def temporaries(folder: Path) -> list[Path]:
    return [p for p in folder.rglob(".*tmp*")]


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory) -> Path:
    """A finished one-epoch run on digits, to damage copies of."""
    root = tmp_path_factory.mktemp("runs")
    res = selfsup("train", *TINY, "train.epochs=1", f"train.out_dir={root}", "train.run_name=run")
    assert res.returncode == 0, res.stderr[-2000:]
    return root / "run"


def in_process(capsys, *args: str) -> subprocess.CompletedProcess:
    """The CLI's ``main`` in this process (no interpreter start-up), read as a subprocess's result."""
    rc = main(list(args))
    out = capsys.readouterr()
    return subprocess.CompletedProcess(list(args), rc, out.out, out.err)


def test_broken_yaml_in_a_preset_or_an_override_is_one_line(tmp_path, capsys):
    bad = tmp_path / "bad.yaml"
    bad.write_text("data: {name: [\n")
    assert_one_line_error(in_process(capsys, "train", "--config", str(bad)), str(bad), "line 2")
    assert_one_line_error(in_process(capsys, "train", "optim.lr=["), "optim.lr=[")


@pytest.mark.parametrize("override,key", [("train.epochs=0", "train.epochs"), ("train.epochs=-1", "train.epochs"), ("data.batch_size=-5", "data.batch_size"), ("eval.knn_k=0", "eval.knn_k")])
def test_counts_below_one_name_their_key(tmp_path, capsys, override, key):
    assert_one_line_error(in_process(capsys, "train", override, f"train.out_dir={tmp_path}"), key)
    assert not any(tmp_path.iterdir())  # nothing was started


def _damaged(run: Path, tmp_path: Path, kind: str) -> Path:
    copy = tmp_path / f"run_{kind}"
    subprocess.run(["cp", "-r", str(run), str(copy)], check=True)
    ckpt = copy / "checkpoint.pt"
    if kind == "empty":
        ckpt.write_bytes(b"")
    elif kind == "truncated":
        ckpt.write_bytes(ckpt.read_bytes()[:5000])
    else:  # a pickle whose loading would run a command
        ckpt.write_bytes(pickle.dumps(_Payload(tmp_path / "pwned")))
    return copy


class _Payload:
    """Unpickled, it would write a file: what a hostile checkpoint does."""

    def __init__(self, marker: Path) -> None:
        self.marker = marker

    def __reduce__(self):  # noqa: ANN204 - pickle protocol
        return exec, (f"import pathlib; pathlib.Path({str(self.marker)!r}).write_text('x')",)


@pytest.mark.slow
@pytest.mark.parametrize("kind", ["malicious", "truncated", "empty"])
def test_a_bad_checkpoint_is_named_and_never_executed(finished_run, tmp_path, kind):
    run = _damaged(finished_run, tmp_path, kind)
    before = (run / "checkpoint.pt").read_bytes()
    for args in (["train", "--resume", str(run)], ["eval", str(run)], ["embed", str(run), "--data", "digits", "--out", str(tmp_path / "e.npy")], ["export", str(run), "--out", str(tmp_path / "b.safetensors")]):
        line = assert_one_line_error(selfsup(*args), str(run / "checkpoint.pt"))
        assert "weights_only" not in line
    assert not (tmp_path / "pwned").exists() and (run / "checkpoint.pt").read_bytes() == before


def test_resume_without_a_checkpoint_is_an_error(tmp_path, capsys):
    run = tmp_path / "run"
    run.mkdir()
    (run / "config.yaml").write_text("train: {epochs: 1}\n")
    (run / "metrics.jsonl").write_text('{"kind": "train", "step": 1, "loss": 1.0}\n')
    assert_one_line_error(in_process(capsys, "train", "--resume", str(run)), "checkpoint.pt")
    assert (run / "metrics.jsonl").read_text() == '{"kind": "train", "step": 1, "loss": 1.0}\n'


def test_an_error_after_the_folder_was_made_leaves_no_folder(tmp_path, capsys):
    res = in_process(capsys, "train", "data.name=folder", f"data.path={tmp_path / 'nowhere'}", f"train.out_dir={tmp_path / 'runs'}", "train.run_name=r")
    assert_one_line_error(res, "nowhere")
    assert not (tmp_path / "runs" / "r").exists()


def _read_only_mount(path: Path) -> bool:
    path.mkdir()
    return subprocess.run(["mount", "-t", "tmpfs", "-o", "ro", "tmpfs", str(path)], capture_output=True).returncode == 0


@pytest.mark.slow
def test_a_read_only_run_folder_is_found_before_training(tmp_path):
    ro = tmp_path / "ro"
    if not _read_only_mount(ro):
        pytest.skip("this machine cannot mount a read-only folder")
    try:
        start = time.perf_counter()
        assert_one_line_error(selfsup("train", *TINY, f"train.out_dir={ro}"), str(ro), "Read-only")
        assert time.perf_counter() - start < 60
    finally:
        subprocess.run(["umount", str(ro)], check=True)


@pytest.mark.slow
def test_a_full_disk_keeps_the_previous_checkpoint_and_no_temporary(finished_run, tmp_path):
    run = tmp_path / "run"
    subprocess.run(["cp", "-r", str(finished_run), str(run)], check=True)
    (run / ".checkpoint.pt.tmp99999").write_bytes(b"left by a killed writer")
    before = (run / "checkpoint.pt").read_bytes()
    size = len(before)
    res = selfsup("train", "--resume", str(run), "train.epochs=2", limit_file_bytes=size // 2)
    assert_one_line_error(res, "File too large", str(run / "checkpoint.pt"))
    assert (run / "checkpoint.pt").read_bytes() == before and temporaries(run) == []
    resumed = list(run.glob("config.resumed_at_step_*.yaml"))
    assert "epochs: 1" in (run / "config.yaml").read_text()  # the original is never overwritten
    assert len(resumed) == 1 and "epochs: 2" in resumed[0].read_text()


def _train_losses(run: Path) -> dict[int, float]:
    records = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    steps = [r["step"] for r in records if r["kind"] == "train"]
    assert len(steps) == len(set(steps)), "a step was logged twice"
    return {r["step"]: r["loss"] for r in records if r["kind"] == "train"}


KILL_RUN = [*TINY, "train.epochs=2", "train.threads=1"]


@pytest.fixture(scope="module")
def uninterrupted(tmp_path_factory) -> dict[int, float]:
    root = tmp_path_factory.mktemp("whole")
    assert selfsup("train", *KILL_RUN, f"train.out_dir={root}", "train.run_name=whole").returncode == 0
    return _train_losses(root / "whole")


@pytest.mark.slow
@pytest.mark.parametrize("ckpt_every,kill_after", [(8, 19), (1, 13), (1, 30)])
def test_kill_9_mid_run_then_resume_logs_one_history_equal_to_an_uninterrupted_run(tmp_path, uninterrupted, ckpt_every, kill_after):
    """Killed once it logged ``kill_after`` steps: with a checkpoint every step, the kill often lands
    inside a checkpoint write, which must leave the previous checkpoint whole."""
    run = tmp_path / "killed"
    args = ["train", *KILL_RUN, f"train.ckpt_every_steps={ckpt_every}", f"train.out_dir={tmp_path}", "train.run_name=killed"]
    proc = subprocess.Popen([sys.executable, "-m", "selfsup.cli", *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 200
    while time.time() < deadline:
        steps = [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()] if (run / "metrics.jsonl").is_file() else []
        if steps and max(steps) >= kill_after:
            break
        time.sleep(0.01)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert 1 <= torch.load(run / "checkpoint.pt", weights_only=True)["step"] <= kill_after + 1  # the last one written whole
    res = selfsup("train", "--resume", str(run))
    assert res.returncode == 0, res.stderr[-2000:]
    killed = _train_losses(run)
    assert sorted(killed) == sorted(uninterrupted) and all(abs(uninterrupted[s] - killed[s]) < 1e-5 for s in uninterrupted)
    assert temporaries(run) == []


@pytest.mark.slow
def test_bad_yaml_a_bad_count_and_a_bad_caption_csv_through_the_real_command(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("optim: {lr: [\n")
    assert_one_line_error(selfsup("train", "--config", str(bad)), str(bad))
    assert_one_line_error(selfsup("train", "train.epochs=-1", f"train.out_dir={tmp_path}"), "train.epochs")
    (tmp_path / "pairs.tsv").write_bytes(b"filepath\ttitle\nmissing.png\tsome caption\nno-tab-here\n")
    line = assert_one_line_error(selfsup("train", "method=clip", "data.name=csv", f"data.path={tmp_path / 'pairs.tsv'}", f"train.out_dir={tmp_path / 'runs'}"), "pairs.tsv line 2")
    assert "image not found" in line
    runs = tmp_path / "runs"
    assert not runs.exists() or not any(runs.iterdir())  # the run folder made for it is gone again
