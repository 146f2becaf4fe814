"""What a claim study is made of, shared by the runner (which runs it) and the report (which writes it)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..config import Config

Row = dict[str, Any]
KeyPath = tuple[str, ...]


@dataclass(frozen=True)
class Column:
    """A table column: the values at ``paths`` in a row (nested keys), joined by ' / '."""

    header: str
    paths: tuple[KeyPath, ...]
    fmt: str = ".1f"
    optional: bool = False  # dropped when a row lacks it (e.g. dense mIoU on data without masks)



@dataclass(frozen=True)
class Study:
    name: str  # the CLI name, e.g. "byol-collapse"
    title: str  # the report's heading
    question: str  # the claims under test, a sentence or two with the source
    method: str  # the preset's method.name the study needs
    preset: str  # the CPU budget preset
    gpu_preset: str  # the papers' scale of settings, for one GPU
    variants: Callable[[Config], tuple[str, ...]]  # the variant names for a preset
    configure: Callable[[Config, str], Config]  # the preset with one variant's changes (a copy)
    evaluate: Callable[[Path, Row], Row]  # (run folder, training summary) -> result row
    columns: tuple[Column, ...]
    judge: Callable[[dict[str, Row]], list[dict[str, str]]]  # summarised rows by variant -> claims
    plot: Callable[[dict[str, Row], Path], Path]  # summarised rows by variant, file -> file
    plot_name: str
    epochs: int | None = None  # the CLI's default epochs per run (None: the preset's)
    diverged: Callable[[Path], Row] | None = None  # what to keep of a run whose loss became NaN/Inf
    floor_groups: Callable[[Config], dict[str, Config]] | None = None  # variants on other data: group -> the config whose floors they face
