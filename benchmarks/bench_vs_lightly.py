"""selfsup vs lightly: SimCLR, BYOL and DINO (2 global + 4 local crops) on the same backbone
(the method preset's), data, batch, optimizer and epochs.

lightly runs as its examples do: its transforms (PIL, per image, in the DataLoader), its
heads and losses, a plain training loop; with the faster of 0 and 2 loader workers.
selfsup runs its real trainer (`selfsup.train.trainer.train`) with its `configs/<method>_mnist.yaml`
preset (epochs set by --epochs). Both report source images/s
through whole training steps and kNN accuracy by the same evaluation code; the bare model
step (forward + backward + update on pre-made views) is the limit both loops approach.

    pip install -e ".[bench]"
    python benchmarks/bench_vs_lightly.py --epochs 10
"""

from __future__ import annotations

import argparse
import copy
import json
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
from PIL import Image
from torch.utils.data import DataLoader, Dataset

from selfsup.config import load_config
from selfsup.data import build_dataset, channel_stats
from selfsup.eval import extract_features, knn_accuracy
from selfsup.methods import build_method
from selfsup.methods.base import Batch
from selfsup.models import build_backbone
from selfsup.train.optim import build_optimizer
from selfsup.train.trainer import train

BATCH = 256
PRESETS = Path(__file__).resolve().parents[1] / "configs"


class PILDigits(Dataset):
    """MNIST-5k train images as PIL images, as lightly's examples feed torchvision datasets."""

    def __init__(self, images: torch.Tensor, transform) -> None:  # noqa: ANN001
        self.images = [Image.fromarray(img[0].numpy(), mode="L") for img in images]
        self.transform = transform

    def __len__(self) -> int:
        return len(self.images)

    def __getitem__(self, i: int):  # noqa: ANN204
        return self.transform(self.images[i]), 0


def lightly_dino(backbone: nn.Module, norm: dict, cfg):  # noqa: ANN001, ANN201
    """lightly's DINO as in its example: DINOTransform, DINOProjectionHead, DINOLoss, update_momentum."""
    from lightly.loss import DINOLoss
    from lightly.models.modules import DINOProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.transforms import DINOTransform
    from lightly.utils.scheduler import cosine_schedule

    c, a = cfg.method, cfg.augment
    head = DINOProjectionHead(backbone.num_features, c.hidden_dim, c.bottleneck_dim, c.out_dim, freeze_last_layer=1)
    t_backbone = copy.deepcopy(backbone)
    t_head = DINOProjectionHead(backbone.num_features, c.hidden_dim, c.bottleneck_dim, c.out_dim)  # weight_norm: no deepcopy
    t_head.load_state_dict(head.state_dict())
    deactivate_requires_grad(t_backbone)
    deactivate_requires_grad(t_head)
    transform = DINOTransform(global_crop_size=28, global_crop_scale=tuple(a.global_scale), local_crop_size=a.local_size, local_crop_scale=tuple(a.local_scale), n_local_views=a.n_local, hf_prob=0.0, normalize=norm)
    criterion = DINOLoss(c.out_dim, c.warmup_teacher_temp, c.teacher_temp, int(c.warmup_teacher_temp_epochs), c.student_temp, c.center_momentum)
    model = nn.ModuleDict({"backbone": backbone, "head": head, "t_backbone": t_backbone, "t_head": t_head})

    def step(model: nn.ModuleDict, views: list[torch.Tensor], i: int, total: int, epoch: int) -> torch.Tensor:
        m = cosine_schedule(i, total, c.momentum, c.momentum_end)
        update_momentum(model["backbone"], model["t_backbone"], m=m)
        update_momentum(model["head"], model["t_head"], m=m)
        teacher = [model["t_head"](model["t_backbone"](v)) for v in views[:2]]
        student = [model["head"](model["backbone"](v)) for v in views]
        return criterion(teacher, student, epoch=epoch)

    def after_backward(model: nn.ModuleDict, epoch: int) -> None:
        model["head"].cancel_last_layer_gradients(current_epoch=epoch)

    return model, transform, step, after_backward


def lightly_parts(method: str, backbone: nn.Module, mean: float, std: float, cfg):  # noqa: ANN001, ANN201
    from lightly.loss import NegativeCosineSimilarity, NTXentLoss
    from lightly.models.modules import BYOLPredictionHead, BYOLProjectionHead, SimCLRProjectionHead
    from lightly.models.utils import deactivate_requires_grad, update_momentum
    from lightly.transforms import BYOLTransform, BYOLView1Transform, BYOLView2Transform, SimCLRTransform
    from lightly.utils.scheduler import cosine_schedule

    norm = {"mean": [mean], "std": [std]}
    dim = backbone.num_features
    if method == "dino":
        return lightly_dino(backbone, norm, cfg)
    if method == "simclr":
        head = SimCLRProjectionHead(dim, 512, 128)
        transform = SimCLRTransform(input_size=28, normalize=norm)
        criterion = NTXentLoss(temperature=0.5)

        def step(model: nn.ModuleDict, views: list[torch.Tensor], i: int, total: int, epoch: int) -> torch.Tensor:
            z0, z1 = model["head"](model["backbone"](views[0])), model["head"](model["backbone"](views[1]))
            return criterion(z0, z1)

        return nn.ModuleDict({"backbone": backbone, "head": head}), transform, step, None
    proj, pred = BYOLProjectionHead(dim, 512, 128), BYOLPredictionHead(128, 512, 128)
    t_backbone, t_proj = copy.deepcopy(backbone), copy.deepcopy(proj)
    deactivate_requires_grad(t_backbone)
    deactivate_requires_grad(t_proj)
    transform = BYOLTransform(BYOLView1Transform(input_size=28, normalize=norm), BYOLView2Transform(input_size=28, normalize=norm))
    criterion = NegativeCosineSimilarity()
    model = nn.ModuleDict({"backbone": backbone, "proj": proj, "pred": pred, "t_backbone": t_backbone, "t_proj": t_proj})

    def byol_step(model: nn.ModuleDict, views: list[torch.Tensor], i: int, total: int, epoch: int) -> torch.Tensor:
        x0, x1 = views
        m = cosine_schedule(i, total, 0.99, 1.0)
        update_momentum(model["backbone"], model["t_backbone"], m=m)
        update_momentum(model["proj"], model["t_proj"], m=m)
        p0, p1 = model["pred"](model["proj"](model["backbone"](x0))), model["pred"](model["proj"](model["backbone"](x1)))
        with torch.no_grad():
            z0, z1 = model["t_proj"](model["t_backbone"](x0)), model["t_proj"](model["t_backbone"](x1))
        return 0.5 * (criterion(p0, z1) + criterion(p1, z0))

    return model, transform, byol_step, None


def run_lightly(method: str, epochs: int, workers: int, train_set, test_set, mean, std, overrides: list[str]) -> dict:  # noqa: ANN001
    cfg = load_config(PRESETS / f"{method}_mnist.yaml", overrides)
    torch.manual_seed(0)
    backbone = build_backbone(cfg.model.backbone, 1, 28, cfg.model.global_pool)
    model, transform, step_fn, after_backward = lightly_parts(method, backbone, mean[0], std[0], cfg)
    lr = cfg.optim.lr
    loader = DataLoader(PILDigits(train_set.images, transform), batch_size=BATCH, shuffle=True, drop_last=True, num_workers=workers, persistent_workers=workers > 0)
    opt = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=lr, weight_decay=0.05)
    total, i, rates = epochs * len(loader), 0, []
    for epoch in range(epochs):
        t0, seen = time.perf_counter(), 0
        for views, _ in loader:
            loss = step_fn(model, views, i, total, epoch)
            opt.zero_grad()
            loss.backward()
            if after_backward is not None:
                after_backward(model, epoch)
            opt.step()
            i, seen = i + 1, seen + views[0].shape[0]
        rates.append(seen / (time.perf_counter() - t0))
    ftr = extract_features(backbone, train_set, mean, std)
    fte = extract_features(backbone, test_set, mean, std)
    return {"images_per_s": float(np.mean(rates[1:] if len(rates) > 1 else rates)), "knn_acc": knn_accuracy(*ftr, *fte)}


def run_ours(method: str, epochs: int, out_dir: str, overrides: list[str]) -> dict:
    cfg = load_config(PRESETS / f"{method}_mnist.yaml", [f"train.epochs={epochs}", f"train.out_dir={out_dir}", f"train.run_name={method}", "train.progress=false", f"train.eval_every={epochs}", f"data.batch_size={BATCH}", *overrides])
    summary = train(cfg)
    records = [json.loads(line) for line in open(f"{out_dir}/{method}/metrics.jsonl")]
    rates = [r["images_per_s"] for r in records if r.get("kind") == "epoch"]
    return {"images_per_s": float(np.mean(rates[1:] if len(rates) > 1 else rates)), "knn_acc": summary["knn_acc"]}


def bare_step(method: str, overrides: list[str], steps: int = 40, prepare: Callable[[nn.Module], None] | None = None, bf16: bool = False) -> float:
    """Source images/s of forward + backward + update on pre-made views (no data, no augmentation).
    ``prepare`` may change the built method first (e.g. compile it); ``bf16`` runs the forward
    under CPU bf16 autocast."""
    cfg = load_config(PRESETS / f"{method}_mnist.yaml", overrides)
    torch.manual_seed(0)
    m = build_method(cfg.method, build_backbone(cfg.model.backbone, 1, 28, cfg.model.global_pool), cfg.model, total_steps=100)
    if prepare is not None:
        prepare(m)
    opt = build_optimizer(cfg.optim, [m])
    local = cfg.augment.local_size or 12
    views = [torch.randn(BATCH, 1, 28, 28) for _ in range(cfg.augment.n_global)] + [torch.randn(BATCH, 1, local, local) for _ in range(cfg.augment.n_local)]
    for i in range(steps + 3):
        if i == 3:
            t0 = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            out = m(Batch(views), i)
        opt.zero_grad()
        out["loss"].backward()
        opt.step()
        m.on_step_end(i)
    return BATCH * steps / (time.perf_counter() - t0)


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("--epochs", type=int, default=10)
    p.add_argument("--methods", nargs="+", default=["simclr", "byol", "dino"])
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("overrides", nargs="*", help="selfsup overrides for our runs (e.g. optim.lr=0.002)")
    args = p.parse_args()
    torch.set_num_threads(args.threads)
    train_set, test_set = build_dataset(load_config().data, True), build_dataset(load_config().data, False)
    mean, std = channel_stats(train_set)
    rows = []
    for method in args.methods:
        probe = {w: run_lightly(method, 1, w, train_set, test_set, mean, std, args.overrides)["images_per_s"] for w in (0, 2)}
        workers = max(probe, key=probe.get)
        theirs = run_lightly(method, args.epochs, workers, train_set, test_set, mean, std, args.overrides)
        with tempfile.TemporaryDirectory() as d:
            ours = run_ours(method, args.epochs, d, args.overrides)
        bare = bare_step(method, args.overrides)
        backbone = load_config(PRESETS / f"{method}_mnist.yaml", args.overrides).model.backbone
        rows.append((method, backbone, workers, theirs, ours, bare))
        print(f"[{method}] lightly (workers={workers}): {theirs['images_per_s']:.0f} img/s, kNN {theirs['knn_acc']:.1f} % | "
              f"selfsup: {ours['images_per_s']:.0f} img/s, kNN {ours['knn_acc']:.1f} % | bare step {bare:.0f} img/s", flush=True)
    print(f"\nMNIST-5k (28 px), each method's preset backbone and optimizer, batch {BATCH}, {args.epochs} epochs, fp32, {args.threads} threads")
    print("| method | backbone | lightly img/s | selfsup img/s | ratio | bare step img/s | selfsup / bare | lightly kNN | selfsup kNN |")
    print("|---|---|---|---|---|---|---|---|---|")
    for method, backbone, workers, theirs, ours, bare in rows:
        print(f"| {method} | `{backbone}` | {theirs['images_per_s']:.0f} ({workers} workers) | {ours['images_per_s']:.0f} | {ours['images_per_s'] / theirs['images_per_s']:.2f}x | "
              f"{bare:.0f} | {ours['images_per_s'] / bare:.2f} | {theirs['knn_acc']:.1f} % | {ours['knn_acc']:.1f} % |")


if __name__ == "__main__":
    main()
