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


def floor_rows(base: Config, seeds: list[int], out_dir: Path) -> list[Row]:
    """Both floors for each seed (the seed draws the random init and the probe), as result rows;
    measured once and kept in ``floors.jsonl`` so a resumed study does not measure them again."""
    cache = out_dir / "floors.jsonl"
    done = [json.loads(line) for line in cache.read_text().splitlines()] if cache.is_file() else []
    rows = []
    for seed in seeds:
        have = [r for r in done if r["seed"] == seed]
        if not have:
            cfg = copy.deepcopy(base)
            cfg.train.seed = seed
            measured = floors(cfg)
            have = [{"variant": name, "seed": seed, "floor": True, "diverged": False, **measured[key]} for name, key in FLOORS.items()]
            with open(cache, "a") as f:
                f.writelines(json.dumps(r) + "\n" for r in have)
        rows += have
    return rows


def is_floor(row: Row) -> bool:
    return bool(row.get("floor"))
