"""What token dropping buys in time: the student's step (forward + backward of the backbone on
the global views) at keep 1.0, 0.5 and 0.25, and the whole AttnDrop step against AttnDrop
keeping every token and against a DINO+iBOT step with the same crops, heads and optimizer.
Views come from one real augmented batch of the preset's dataset; each figure is the median
over ``--steps`` timed steps after a warm-up (:mod:`selfsup.train.step_time`).

    python benchmarks/bench_token_drop.py --config configs/attndrop_shapes.yaml
"""

from __future__ import annotations

import argparse
import copy
import dataclasses

import torch

from selfsup.config import load_config
from selfsup.models.token_drop import keep_count, select_tokens
from selfsup.models.tokens import forward_tokens, grid_size, pool
from selfsup.study.attndrop import dino_ibot_config
from selfsup.train.optim import build_optimizer
from selfsup.train.step_time import median_seconds, preset_backbone, preset_views, step_seconds


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/attndrop_shapes.yaml")
    ap.add_argument("--steps", type=int, default=20)
    args, overrides = ap.parse_known_args()
    cfg = load_config(args.config, overrides)
    views, channels, image_size = preset_views(cfg)
    globals_ = torch.cat(views[: cfg.augment.n_global])
    b = cfg.data.batch_size
    print(f"{cfg.data.name} {image_size}px, {cfg.model.backbone} patch {cfg.model.patch_size}, batch {b}, "
          f"{cfg.augment.n_global} global + {cfg.augment.n_local} local crops, {torch.get_num_threads()} threads")

    vit = preset_backbone(cfg, channels, image_size)
    opt = build_optimizer(cfg.optim, [vit])
    h, w = grid_size(vit, globals_)
    student = {}
    for ratio in (1.0, 0.5, 0.25):
        k = keep_count(h * w, ratio)

        def student_step(i: int, k: int = k) -> None:
            keep = None if k == h * w else select_tokens(torch.empty(globals_.shape[0], h * w), k, "random")
            opt.zero_grad()
            pool(vit, forward_tokens(vit, globals_, keep=keep)).square().mean().backward()
            opt.step()

        student[ratio] = median_seconds(student_step, args.steps)
        print(f"student step, keep {ratio:4.2f} ({k:3d}/{h * w} tokens): {student[ratio] * 1e3:7.1f} ms  "
              f"speed-up {student[1.0] / student[ratio]:.2f}x")

    keep_all = dataclasses.replace(cfg.method, keep_ratio=1.0)
    methods = {f"AttnDrop, keep {cfg.method.keep_ratio}": cfg.method, "AttnDrop, keep 1.0": keep_all, "DINO+iBOT": dino_ibot_config(cfg.method)}
    whole = {}
    for name, mcfg in methods.items():
        run = copy.deepcopy(cfg)
        run.method = mcfg
        whole[name] = step_seconds(run, args.steps)
        print(f"whole step, {name:18s}: {whole[name] * 1e3:7.1f} ms  ({b / whole[name]:6.1f} source img/s)")
    dropped = whole[f"AttnDrop, keep {cfg.method.keep_ratio}"]
    print(f"AttnDrop (keep {cfg.method.keep_ratio}) vs keep 1.0: {whole['AttnDrop, keep 1.0'] / dropped:.2f}x; vs DINO+iBOT: {whole['DINO+iBOT'] / dropped:.2f}x")


if __name__ == "__main__":
    main()
