"""How far a backbone gets *supervised* on MNIST-5k's 4,000 training images: the ceiling a
self-supervised run of that backbone is judged against (docs/results.md).

Labels, the same fixed split, random shifts of up to 2 px, AdamW (lr 1e-3, one-cycle, weight
decay 0.05), batch 128; prints the test accuracy.

    python benchmarks/supervised_ceiling.py --backbone vit_micro --epochs 15
    python benchmarks/supervised_ceiling.py --backbone vitc_micro --epochs 15
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

from selfsup.augment import eval_transform
from selfsup.config import DataConfig
from selfsup.data import build_dataset, channel_stats
from selfsup.models import build_backbone

BATCH = 128


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backbone", default="vit_micro")
    parser.add_argument("--epochs", type=int, default=15)
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.manual_seed(0)
    torch.set_num_threads(args.threads)
    train_set, test_set = build_dataset(DataConfig(name="mnist"), True), build_dataset(DataConfig(name="mnist"), False)
    mean, std = channel_stats(train_set)
    backbone = build_backbone(args.backbone, train_set.channels, train_set.image_size)
    model = nn.Sequential(backbone, nn.Linear(backbone.num_features, int(train_set.labels.max()) + 1))
    x = eval_transform(train_set.images, mean, std)  # (N, 1, 28, 28)
    steps_per_epoch = len(x) // BATCH
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3, weight_decay=0.05)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, 1e-3, total_steps=args.epochs * steps_per_epoch)
    start = time.perf_counter()
    for _ in range(args.epochs):
        order = torch.randperm(len(x))
        for i in range(steps_per_epoch):
            idx = order[i * BATCH : (i + 1) * BATCH]
            shift = (int(torch.randint(-2, 3, ())), int(torch.randint(-2, 3, ())))
            loss = F.cross_entropy(model(torch.roll(x[idx], shift, dims=(2, 3))), train_set.labels[idx])
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
    model.eval()
    with torch.no_grad():
        acc = (model(eval_transform(test_set.images, mean, std)).argmax(1) == test_set.labels).float().mean().item() * 100
    print(f"{args.backbone}: supervised test accuracy {acc:.1f} % after {args.epochs} epochs ({time.perf_counter() - start:.0f} s)")


if __name__ == "__main__":
    main()
