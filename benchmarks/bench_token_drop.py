"""What token dropping buys in time: the student's step (forward + backward of the backbone on
the global views) at keep 1.0, 0.5 and 0.25, and the whole AttnDrop step against a DINO+iBOT
step with the same crops, heads and optimizer. Views come from one real augmented batch of the
preset's dataset; each figure is the median over ``--steps`` timed steps after a warm-up.

    python benchmarks/bench_token_drop.py --config configs/attndrop_shapes.yaml
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable

import torch

from selfsup.augment import MultiCropAugment
from selfsup.config import load_config
from selfsup.data import build_dataset, channel_stats
from selfsup.methods import build_method
from selfsup.methods.base import Batch
from selfsup.models import build_backbone
from selfsup.models.token_drop import keep_count, select_tokens
from selfsup.models.tokens import forward_tokens, grid_size, pool
from selfsup.study.attndrop import dino_ibot_config
from selfsup.train.optim import build_optimizer


def median_seconds(step: Callable[[int], None], steps: int, warmup: int = 3) -> float:
    for i in range(warmup):
        step(i)
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step(warmup + i)
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--config", default="configs/attndrop_shapes.yaml")
    ap.add_argument("--steps", type=int, default=20)
    args, overrides = ap.parse_known_args()
    cfg = load_config(args.config, overrides)
    data = build_dataset(cfg.data, train=True)
    b = cfg.data.batch_size
    views = MultiCropAugment(cfg.augment, data.image_size, *channel_stats(data))(data.images[:b])
    globals_ = torch.cat(views[: cfg.augment.n_global])
    print(f"{cfg.data.name} {data.image_size}px, {cfg.model.backbone} patch {cfg.model.patch_size}, batch {b}, "
          f"{cfg.augment.n_global} global + {cfg.augment.n_local} local crops, {torch.get_num_threads()} threads")

    def backbone():
        return build_backbone(cfg.model.backbone, data.channels, data.image_size, cfg.model.global_pool, cfg.model.patch_size)

    vit = backbone()
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

    methods = {"AttnDrop": cfg.method, "DINO+iBOT": dino_ibot_config(cfg.method)}
    whole = {}
    for name, mcfg in methods.items():
        method = build_method(mcfg, backbone(), cfg.model, total_steps=1000, steps_per_epoch=100)
        mopt = build_optimizer(cfg.optim, [method])

        def method_step(i: int, method=method, mopt=mopt) -> None:
            mopt.zero_grad()
            method.training_step(Batch(views), i)["loss"].backward()
            method.before_optimizer_step(i)
            mopt.step()
            method.on_step_end(i)

        whole[name] = median_seconds(method_step, args.steps)
        print(f"whole step, {name:9s}: {whole[name] * 1e3:7.1f} ms  ({b / whole[name]:6.1f} source img/s)")
    print(f"AttnDrop (keep {cfg.method.keep_ratio}) vs DINO+iBOT: {whole['DINO+iBOT'] / whole['AttnDrop']:.2f}x")


if __name__ == "__main__":
    main()
