"""The floors every study measures beside its variants, per seed on the study's own data and
backbone: a randomly initialised backbone and raw pixels, by the same kNN and linear probe as a
run's (:func:`selfsup.eval.floors.floors`). A variant that does not beat the random-init floor by
the study rule has not been shown to learn anything, so it cannot win a claim."""

from __future__ import annotations

import copy
import json
from pathlib import Path

from ..config import Config
from ..eval.floors import floors
from .spec import Row

RANDOM_INIT = "random-init floor"
RAW_PIXELS = "raw-pixel floor"
FLOORS = {RANDOM_INIT: "random_init", RAW_PIXELS: "raw_pixels"}  # row's variant -> floors() key


def floor_name(floor: str, group: str = "") -> str:
    """The row name of a floor of a group of variants: 'random-init floor (shapes)'."""
    return f"{floor} ({group})" if group else floor


def floor_rows(groups: dict[str, Config], seeds: list[int], out_dir: Path) -> list[Row]:
    """Both floors for each seed (the seed draws the random init and the probe) and each group of
    variants that trains on its own data ('': the preset's), as result rows; measured once and
    kept in ``floors.jsonl`` so a resumed study does not measure them again."""
    cache = out_dir / "floors.jsonl"
    done = [json.loads(line) for line in cache.read_text().splitlines()] if cache.is_file() else []
    rows = []
    for group, base in groups.items():
        names = [floor_name(f, group) for f in FLOORS]
        for seed in seeds:
            have = [r for r in done if r["seed"] == seed and r["variant"] in names]
            if not have:
                cfg = copy.deepcopy(base)
                cfg.train.seed = seed
                measured = floors(cfg)
                have = [{"variant": name, "seed": seed, "floor": True, "diverged": False, **measured[key]} for name, key in zip(names, FLOORS.values())]
                with open(cache, "a") as f:
                    f.writelines(json.dumps(r) + "\n" for r in have)
            rows += have
    return rows


def is_floor(row: Row) -> bool:
    return bool(row.get("floor"))
