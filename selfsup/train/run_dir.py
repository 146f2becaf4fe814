"""A run folder's housekeeping: made writable before any work, cleared of a killed writer's
temporary files, one metrics history after a resume, and gone again if a run fails before it
has anything to keep."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

import yaml

from .checkpoint import sweep_temporaries

CONFIG = "config.yaml"
METRICS = "metrics.jsonl"


def check_writable(run_dir: Path) -> None:
    """Make ``run_dir`` and write a file in it now, not after an epoch of training."""
    try:
        run_dir.mkdir(parents=True, exist_ok=True)
        probe = run_dir / f".write_test{os.getpid()}"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as e:
        raise OSError(f"cannot write the run folder {run_dir}: {e.strerror or e}") from e


def truncate_metrics(run_dir: Path, step: int) -> int:
    """Drop the records logged after the checkpoint's ``step`` (a killed run went on past it), so
    the resumed run writes one history; rewritten atomically. Returns how many were dropped."""
    path = run_dir / METRICS
    if not path.is_file():
        return 0
    lines = [line for line in path.read_text().splitlines() if line.strip()]
    kept = [line for line in lines if json.loads(line).get("step", 0) <= step]
    if len(kept) < len(lines):
        tmp = path.with_name(f".{path.name}.tmp{os.getpid()}")
        tmp.write_text("".join(line + "\n" for line in kept))
        os.replace(tmp, path)
    return len(lines) - len(kept)


def prepare_run_dir(run_dir: Path, config: dict[str, Any], resumed_step: int | None) -> None:
    """Before training: writable, no stale temporaries; a new run's ``config.yaml``, or for a resume
    the config it runs with beside the original (never over it) and its metrics cut at the checkpoint."""
    check_writable(run_dir)
    sweep_temporaries(run_dir / "checkpoint.pt")
    if resumed_step is None:
        (run_dir / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
        return
    (run_dir / f"config.resumed_at_step_{resumed_step}.yaml").write_text(yaml.safe_dump(config, sort_keys=False))
    truncate_metrics(run_dir, resumed_step)


def has_history(run_dir: Path) -> bool:
    """Whether a run folder holds anything worth keeping: a checkpoint or training records."""
    if (run_dir / "checkpoint.pt").is_file():
        return True
    path = run_dir / METRICS
    return path.is_file() and any(json.loads(line).get("kind") == "train" for line in path.read_text().splitlines() if line.strip())


def remove_if_empty(run_dir: Path) -> None:
    """Take away a run folder this run made, when it failed before it had anything to keep."""
    if run_dir.is_dir() and not has_history(run_dir):
        shutil.rmtree(run_dir, ignore_errors=True)
