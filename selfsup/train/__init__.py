"""Training: loop, optimizers, schedules, EMA, checkpoints, distributed helpers."""

from .checkpoint import load_checkpoint, save_atomic
from .runs import LoadedRun, load_run
from .trainer import CHECKPOINT, RunParts, TrainingDiverged, build_networks, train

__all__ = ["CHECKPOINT", "LoadedRun", "RunParts", "TrainingDiverged", "build_networks", "load_checkpoint", "load_run", "save_atomic", "train"]
