"""What DINO's bare step costs on this CPU, and what does not make it cheaper.

The ratio to lightly in ``bench_vs_lightly.py --methods dino`` is limited by selfsup's bare
model step (its loop runs at ~0.99x of it). This times that step (the ``configs/dino_mnist.yaml``
preset, batch 256, 2 global + 4 local crops, forward + backward + update on pre-made views)
as it is, without the conv stem, with each ViT's blocks under ``torch.compile`` and under bf16
autocast, in one process.

    python benchmarks/bench_dino_step.py
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
from bench_vs_lightly import BATCH, bare_step
from timm.models.vision_transformer import VisionTransformer


def compile_blocks(method: nn.Module) -> None:
    """``torch.compile`` each ViT's transformer blocks (student and teacher), one graph per shape."""
    for vit in [m for m in method.modules() if isinstance(m, VisionTransformer)]:
        vit.blocks = torch.compile(vit.blocks, dynamic=False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--threads", type=int, default=2)
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    variants = {
        "the preset (vitc_micro, fp32, eager)": {},
        "vit_micro: no conv stem": {"overrides": ["model.backbone=vit_micro"]},
        "torch.compile of the blocks": {"prepare": compile_blocks},
        "bf16 autocast": {"bf16": True},
    }
    print(f"DINO bare step, batch {BATCH}, {args.threads} threads, {args.steps} timed steps")
    print("| variant | source img/s | vs the preset | set-up s |")
    print("|---|---|---|---|")
    base = None
    for name, kw in variants.items():
        t0 = time.perf_counter()
        ips = bare_step("dino", kw.get("overrides", []), args.steps, kw.get("prepare"), kw.get("bf16", False))
        setup = time.perf_counter() - t0 - BATCH * args.steps / ips
        base = base or ips
        print(f"| {name} | {ips:.0f} | {ips / base:.2f}x | {setup:.0f} |", flush=True)


if __name__ == "__main__":
    main()
