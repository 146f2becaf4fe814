"""selfsup vs IBM's Adversarial Robustness Toolbox: DeepFool-UAP on the same classifier, images,
eps, norm, delta and pass limit; prints both fooling rates and wall times.

ART's ``UniversalPerturbation`` (attacker "deepfool") walks the fitting images one at a time
(a DeepFool per image, ``nb_grads`` = 10 class gradients); ours runs DeepFool on a batch of
the images v does not yet fool and projects after each batch. The classifier is a selfsup
run's encoder + online probe (``--run``) or, by default, a small CNN trained here on
MNIST-5k for two epochs (seconds). Pixels in [0, 1]; eps on that scale.

    pip install -e ".[bench]"
    python benchmarks/bench_vs_art.py --eps 0.2 --norm inf
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F
from art.attacks.evasion import UniversalPerturbation
from art.estimators.classification import PyTorchClassifier

from selfsup.attacks import deepfool_uap, fooling_rate
from selfsup.attacks.classifier import pixels, run_classifier
from selfsup.config import DataConfig
from selfsup.data import build_dataset
from selfsup.train.runs import load_run


def small_cnn(x: torch.Tensor, y: torch.Tensor) -> nn.Module:
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(1, 16, 3, 2, 1), nn.ReLU(), nn.Conv2d(16, 32, 3, 2, 1), nn.ReLU(), nn.Flatten(), nn.Linear(32 * 7 * 7, 10))
    opt = torch.optim.Adam(model.parameters(), lr=2e-3)
    for _ in range(2):
        for i in torch.randperm(len(x)).split(64):
            loss = F.cross_entropy(model(x[i]), y[i])
            opt.zero_grad()
            loss.backward()
            opt.step()
    return model.eval().requires_grad_(False)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--run", help="a selfsup run with a linear probe (default: a small CNN trained here on MNIST-5k)")
    p.add_argument("--eps", type=float, default=0.2)
    p.add_argument("--norm", choices=["inf", "2"], default="inf")
    p.add_argument("--fit-images", type=int, default=100)
    p.add_argument("--held-out", type=int, default=1000)
    p.add_argument("--passes", type=int, default=5)
    p.add_argument("--delta", type=float, default=0.2)
    args = p.parse_args()
    torch.set_num_threads(2)
    if args.run:
        run = load_run(args.run)
        model, data = run_classifier(run), run.cfg.data
    else:
        data = DataConfig(name="mnist")
        train = build_dataset(data, train=True)
        model = small_cnn(pixels(train.images), train.labels)
    train, test = build_dataset(data, train=True), build_dataset(data, train=False)
    fit, held_out = pixels(train.images[: args.fit_images]), pixels(test.images[: args.held_out])
    labels = test.labels[: args.held_out]
    with torch.no_grad():
        acc = 100.0 * (model(held_out).argmax(1) == labels).float().mean().item()
    print(f"classifier: {'run ' + args.run if args.run else 'small CNN on MNIST-5k'}, clean held-out accuracy {acc:.1f} %")
    print(f"eps {args.eps:g} ({args.eps * 255:.1f}/255), l{args.norm}, {args.fit_images} fitting images, delta {args.delta}, at most {args.passes} passes")

    t0 = time.perf_counter()
    ours = deepfool_uap(model, fit, args.eps, args.norm, delta=args.delta, max_passes=args.passes)
    t_ours = time.perf_counter() - t0

    clf = PyTorchClassifier(model=model, loss=nn.CrossEntropyLoss(), input_shape=tuple(fit.shape[1:]), nb_classes=int(model(fit[:1]).shape[1]), clip_values=(0.0, 1.0))
    attack = UniversalPerturbation(clf, attacker="deepfool", attacker_params={"verbose": False}, delta=args.delta, max_iter=args.passes, eps=args.eps, norm=np.inf if args.norm == "inf" else 2, verbose=False)
    np.random.seed(0)
    t0 = time.perf_counter()
    attack.generate(fit.numpy())
    t_art = time.perf_counter() - t0
    v_art = torch.from_numpy(attack.noise[0]).float()

    rows = [("selfsup", ours.v, t_ours, ours.passes), ("ART", v_art, t_art, None)]
    for name, v, seconds, passes in rows:
        fit_rate, held_rate = fooling_rate(model, fit, v), fooling_rate(model, held_out, v)
        size = v.abs().max().item() if args.norm == "inf" else v.norm().item()
        print(f"{name:8s} fooling rate: fitting {fit_rate:5.1f} %, held-out {held_rate:5.1f} %   ||v|| {size:.4f}   wall {seconds:7.2f} s" + (f"   passes {passes}" if passes else ""))
    print(f"selfsup / ART wall time: 1/{t_art / t_ours:.1f}")


if __name__ == "__main__":
    main()
