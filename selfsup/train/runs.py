"""Loading a finished (or interrupted) run from its folder."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import torch.nn as nn

from ..config import Config, config_from_dict
from ..methods import Method
from ..text import CaptionTokenizer
from .captions import load_tokenizer
from .checkpoint import load_checkpoint
from .trainer import CHECKPOINT, CHECKPOINT_KEYS, RunParts, build_networks


@dataclass
class LoadedRun:
    run_dir: Path
    cfg: Config
    method: Method
    probe: nn.Linear | None
    meta: RunParts
    step: int
    tokenizer: CaptionTokenizer | None = None  # image-text runs

    def encoder(self) -> nn.Module:
        return self.method.encoder()


def load_run(run_dir: str | Path) -> LoadedRun:
    """Rebuild a run's networks from ``RUN/checkpoint.pt`` (loaded with ``weights_only=True``)."""
    run_dir = Path(run_dir)
    if not run_dir.is_dir():
        raise FileNotFoundError(f"no run folder at {run_dir}")
    state = load_checkpoint(run_dir / CHECKPOINT, CHECKPOINT_KEYS)
    cfg = config_from_dict(state["config"])
    meta = RunParts(**{k: tuple(v) if isinstance(v, list) else v for k, v in state["meta"].items()})
    method, probe = build_networks(cfg, meta, total_steps=1)
    method.load_state_dict(state["method"])
    if probe is not None and state["probe"]:
        probe.load_state_dict(state["probe"])
    method.eval()
    tokenizer = load_tokenizer(run_dir) if meta.text else None
    return LoadedRun(run_dir, cfg, method, probe, meta, int(state["step"]), tokenizer)
