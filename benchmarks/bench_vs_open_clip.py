"""selfsup vs open_clip: the CLIP loss on the same features (value and gradients), and a whole
training step of the same small CLIP model with each loss.

Agreement: random image and text features; open_clip's ``ClipLoss`` gets them normalised (as
its models hand them over), ours normalises inside. Loss and the gradients with respect to the
unnormalised features must agree to 1e-5, and so must our closed-form gradient.
Speed: our CLIP method (vit_micro image tower + 2-layer text transformer, MNIST-5k captions,
batch 256) runs forward + backward + AdamW with our ``clip_loss`` and with open_clip's
``ClipLoss`` in its place; the steps alternate so both see the same machine state. The loss
alone is also timed on larger batches.

    pip install -e ".[bench]"
    python benchmarks/bench_vs_open_clip.py
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F
from open_clip.loss import ClipLoss

from selfsup.config import load_config
from selfsup.data import build_dataset
from selfsup.data.captions import caption_table
from selfsup.losses import clip_loss, clip_loss_grad
from selfsup.methods import build_method
from selfsup.methods.base import Batch
from selfsup.models import build_backbone
from selfsup.text import CaptionTokenizer
from selfsup.train.optim import build_optimizer


def agreement(n: int = 256, dim: int = 128) -> dict[str, float]:
    torch.manual_seed(0)
    x = torch.randn(n, dim, dtype=torch.float64, requires_grad=True)
    y = torch.randn(n, dim, dtype=torch.float64, requires_grad=True)
    scale = 1 / 0.07
    ours = clip_loss(x, y, scale)
    gx, gy = torch.autograd.grad(ours, (x, y))
    theirs = ClipLoss()(F.normalize(x, dim=1), F.normalize(y, dim=1), torch.tensor(scale, dtype=torch.float64))
    tx, ty = torch.autograd.grad(theirs, (x, y))
    cx, cy = clip_loss_grad(x.detach(), y.detach(), scale)
    return {
        "loss_diff": abs(ours.item() - theirs.item()),
        "grad_diff": max((gx - tx).abs().max().item(), (gy - ty).abs().max().item()),
        "closed_form_vs_open_clip": max((cx - tx).abs().max().item(), (cy - ty).abs().max().item()),
    }


def open_clip_loss(loss_fn: ClipLoss):
    def loss(image, text, scale, gather_distributed=False):  # noqa: ANN001, ANN202, ARG001
        return loss_fn(F.normalize(image, dim=1), F.normalize(text, dim=1), scale)

    return loss


def step_timing(steps: int, batch: int) -> dict[str, float]:
    """Seconds per training step of the same CLIP model with each loss, interleaved."""
    import selfsup.methods.clip as clip_method

    cfg = load_config("configs/clip_mnist.yaml")
    data = build_dataset(cfg.data, train=True)
    table = caption_table(data, cfg.data.train_templates)
    tok = CaptionTokenizer.train([c for row in table for c in row], cfg.method.vocab_size)
    ids = tok.encode([row[0] for row in table[:batch]], cfg.method.context_length)
    images = (data.images[:batch].float() / 255 - 0.13) / 0.31
    ours_loss, theirs_loss = clip_method.clip_loss, open_clip_loss(ClipLoss())
    models, opts = [], []
    for _ in range(2):
        torch.manual_seed(0)
        m = build_method(cfg.method, build_backbone("vit_micro", 1, 28), cfg.model, 100, text=tok.spec(cfg.method.context_length))
        models.append(m)
        opts.append(build_optimizer(cfg.optim, [m]))
    times = {"selfsup": 0.0, "open_clip": 0.0}
    for i in range(steps + 2):
        for name, m, opt, loss_fn in (("selfsup", models[0], opts[0], ours_loss), ("open_clip", models[1], opts[1], theirs_loss)):
            clip_method.clip_loss = loss_fn
            t0 = time.perf_counter()
            out = m.training_step(Batch([images], ids), i)
            opt.zero_grad()
            out["loss"].backward()
            opt.step()
            if i >= 2:  # warm-up steps are not timed
                times[name] += time.perf_counter() - t0
    clip_method.clip_loss = ours_loss
    return {k: v / steps for k, v in times.items()}


def loss_timing(n: int, dim: int, reps: int) -> dict[str, float]:
    """Seconds per forward + backward of the loss alone on (n, dim) features."""
    x = torch.randn(n, dim, requires_grad=True)
    y = torch.randn(n, dim, requires_grad=True)
    scale = torch.tensor(1 / 0.07)
    fns = {"selfsup": lambda: clip_loss(x, y, scale), "open_clip": lambda: open_clip_loss(ClipLoss())(x, y, scale)}
    times = {k: 0.0 for k in fns}
    for i in range(reps + 1):
        for name, fn in fns.items():
            t0 = time.perf_counter()
            fn().backward()
            if i:
                times[name] += time.perf_counter() - t0
    return {k: v / reps for k, v in times.items()}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--batch", type=int, default=256)
    args = p.parse_args()
    torch.set_num_threads(2)
    a = agreement()
    print(f"agreement (float64, 256 x 128): |loss diff| {a['loss_diff']:.1e}, max |grad diff| {a['grad_diff']:.1e}, closed-form grad vs open_clip autograd {a['closed_form_vs_open_clip']:.1e}")
    print(f"  within 1e-5: {max(a.values()) < 1e-5}")
    t = step_timing(args.steps, args.batch)
    print(f"training step (CLIP, vit_micro + 2-layer text, MNIST captions, batch {args.batch}): selfsup {1000 * t['selfsup']:.1f} ms, open_clip loss {1000 * t['open_clip']:.1f} ms -> ours {t['open_clip'] / t['selfsup']:.2f}x")
    for n, dim in ((1024, 512), (4096, 512)):
        lt = loss_timing(n, dim, 10)
        print(f"loss alone, fwd+bwd, {n} x {dim}: selfsup {1000 * lt['selfsup']:.2f} ms, open_clip {1000 * lt['open_clip']:.2f} ms -> ours {lt['open_clip'] / lt['selfsup']:.2f}x")


if __name__ == "__main__":
    main()
