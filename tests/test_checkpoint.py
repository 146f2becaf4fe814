import subprocess
import sys
import time

import pytest
import torch

from selfsup.config import load_config
from selfsup.methods.simclr import SimCLR
from selfsup.train.checkpoint import load_checkpoint, save_atomic
from selfsup.train.logging import read_metrics
from selfsup.train.trainer import CHECKPOINT, TrainingDiverged, train


def _run(overrides, name, *extra):
    return load_config(None, [*overrides, f"train.run_name={name}", *extra])


@pytest.mark.slow
def test_resume_continues_exactly(tiny_overrides, tmp_path):
    train(_run(tiny_overrides, "straight", "train.max_steps=30", "train.epochs=2"))
    train(_run(tiny_overrides, "split", "train.max_steps=15", "train.epochs=2"))
    assert load_checkpoint(tmp_path / "split" / CHECKPOINT)["step"] == 15
    train(_run(tiny_overrides, "split", "train.max_steps=30", "train.epochs=2"), resume=True)
    a, b = load_checkpoint(tmp_path / "straight" / CHECKPOINT), load_checkpoint(tmp_path / "split" / CHECKPOINT)
    assert a["step"] == b["step"] == 30
    for key in a["method"]:
        assert torch.allclose(a["method"][key].float(), b["method"][key].float(), atol=1e-6), key
    last = [[r["loss"] for r in read_metrics(tmp_path / n / "metrics.jsonl") if r["kind"] == "train" and r["step"] == 30] for n in ("straight", "split")]
    assert len(last[0]) == len(last[1]) == 1 and abs(last[0][0] - last[1][0]) < 1e-5


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tiny_overrides, tmp_path, monkeypatch):
    train(_run(tiny_overrides, "run", "train.max_steps=5"))
    good = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    real_step = SimCLR.training_step

    def poisoned(self, batch, step):
        out = real_step(self, batch, step)
        out["loss"] = out["loss"] * float("nan") if step >= 7 else out["loss"]
        return out

    monkeypatch.setattr(SimCLR, "training_step", poisoned)
    with pytest.raises(TrainingDiverged, match=r"loss became nan at step 7.*last good checkpoint kept"):
        train(_run(tiny_overrides, "run", "train.max_steps=20"), resume=True)
    kept = load_checkpoint(tmp_path / "run" / CHECKPOINT)
    assert kept["step"] == good["step"] == 5
    assert '"kind": "diverged"' in (tmp_path / "run" / "metrics.jsonl").read_text()


def test_killed_writer_leaves_previous_checkpoint_loadable(tmp_path):
    path = tmp_path / "ckpt.pt"
    save_atomic({"step": 1, "w": torch.ones(3)}, path)
    code = (
        "import torch, sys; from selfsup.train.checkpoint import save_atomic; "
        f"save_atomic({{'step': 2, 'w': torch.zeros(200_000_000)}}, {str(path)!r})"
    )
    proc = subprocess.Popen([sys.executable, "-c", code])
    deadline = time.time() + 60
    while not list(tmp_path.glob(".ckpt.pt.tmp*")) and time.time() < deadline:
        time.sleep(0.01)
    proc.kill()
    proc.wait()
    assert list(tmp_path.glob(".ckpt.pt.tmp*")), "the writer never started writing"
    state = load_checkpoint(path)
    assert state["step"] == 1 and torch.equal(state["w"], torch.ones(3))
