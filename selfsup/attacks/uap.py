"""Universal adversarial perturbations: one ``v`` with ||v||_p <= eps that changes a
classifier's prediction on most images, max over v of the fooling rate on {x + v : x in D}.

DeepFool-UAP: Moosavi-Dezfooli et al., "Universal adversarial perturbations", CVPR 2017.
SGD-UAP: Shafahi et al., "Universal adversarial training", AAAI 2020.

Images are on the classifier's input scale (here pixels in [0, 1]); ``x + v`` is clipped to it.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor
from tqdm import tqdm

NORMS = ("inf", "2")


def check_budget(eps: float, norm: str) -> None:
    if not eps > 0:
        raise ValueError(f"eps must be > 0, got {eps}")
    if norm not in NORMS:
        raise ValueError(f"unknown norm '{norm}'; valid norms: {', '.join(NORMS)}")


def project(v: Tensor, eps: float, norm: str) -> Tensor:
    """Onto the l_p ball of radius ``eps``: l2 scales by min(1, eps / ||v||_2), l-inf clips."""
    if norm == "inf":
        return v.clamp(-eps, eps)
    return v * min(1.0, eps / (v.norm().item() + 1e-12))


def random_perturbation(shape: tuple[int, ...], eps: float, norm: str, generator: torch.Generator | None = None) -> Tensor:
    """Noise on the ball's surface: random signs x eps (l-inf), a Gaussian scaled to eps (l2)."""
    if norm == "inf":
        return eps * (torch.randint(0, 2, shape, generator=generator) * 2 - 1).float()
    g = torch.randn(shape, generator=generator)
    return g * eps / g.norm()


@torch.no_grad()
def predict(model: nn.Module, images: Tensor, batch_size: int = 256) -> Tensor:
    return torch.cat([model(images[i : i + batch_size]).argmax(dim=1) for i in range(0, len(images), batch_size)])


def perturb(images: Tensor, v: Tensor, bounds: tuple[float, float] = (0.0, 1.0)) -> Tensor:
    return (images + v).clamp(*bounds)


def fooling_rate(model: nn.Module, images: Tensor, v: Tensor, clean: Tensor | None = None, target: int | None = None, batch_size: int = 256) -> float:
    """% of images whose prediction changes under ``v`` (targeted: % predicted as ``target``)."""
    adv = predict(model, perturb(images, v), batch_size)
    if target is not None:
        return 100.0 * (adv == target).float().mean().item()
    clean = predict(model, images, batch_size) if clean is None else clean
    return 100.0 * (adv != clean).float().mean().item()


def deepfool(model: nn.Module, x: Tensor, candidates: int = 10, overshoot: float = 0.02, max_iter: int = 50, target: int | None = None) -> Tensor:
    """Batched DeepFool (Moosavi-Dezfooli et al., CVPR 2016): for each image (B, C, H, W) the
    small l2 step that crosses the nearest linearised boundary between its predicted class and
    one of the ``candidates`` next-most-likely classes (or ``target``), repeated until the
    prediction changes; returns the total perturbations (B, C, H, W), scaled by 1 + overshoot.

    Per iteration: w_k = grad f_k - grad f_orig, f'_k = f_k - f_orig; the step goes to the
    class l = argmin |f'_k| / ||w_k|| and is (|f'_l| / ||w_l||^2) w_l.
    """
    with torch.no_grad():
        logits = model(x)
    orig = logits.argmax(dim=1)  # (B,)
    if target is not None:
        cls = torch.cat([orig[:, None], torch.full_like(orig[:, None], target)], dim=1)  # (B, 2)
    else:
        cls = logits.argsort(dim=1, descending=True)[:, : candidates + 1]  # (B, K+1), the predicted class first
    r = torch.zeros_like(x)
    active = torch.ones(len(x), dtype=torch.bool, device=x.device)
    if target is not None:
        active &= orig != target
    for _ in range(max_iter):
        if not active.any():
            break
        xa = (x[active] + (1 + overshoot) * r[active]).requires_grad_(True)
        out = model(xa)  # (b, classes)
        picked = out.gather(1, cls[active])  # (b, K+1)
        grads = torch.stack([torch.autograd.grad(picked[:, k].sum(), xa, retain_graph=k < picked.shape[1] - 1)[0] for k in range(picked.shape[1])], dim=1)  # (b, K+1, C, H, W)
        w = grads[:, 1:] - grads[:, :1]  # (b, K, C, H, W)
        f = (picked[:, 1:] - picked[:, :1]).detach()  # (b, K)
        w_norm = w.flatten(2).norm(dim=2) + 1e-8  # (b, K)
        best = (f.abs() / w_norm).argmin(dim=1)  # (b,)
        rows = torch.arange(len(best), device=x.device)
        step = ((f[rows, best].abs() + 1e-4) / w_norm[rows, best] ** 2)[:, None, None, None] * w[rows, best]
        idx = active.nonzero()[:, 0]
        r[idx] += step
        with torch.no_grad():
            now = model(x[idx] + (1 + overshoot) * r[idx]).argmax(dim=1)
        done = (now == target) if target is not None else (now != orig[idx])
        active[idx[done]] = False
    return (1 + overshoot) * r


@dataclass
class UAPResult:
    v: Tensor  # (C, H, W): the pass-end perturbation that fooled the most fitting images
    passes: int
    fooling_history: list[float] = field(default_factory=list)  # fooling rate (%) on the fitting images after each pass


def _fit(
    model: nn.Module, images: Tensor, eps: float, norm: str, update: Callable[[Tensor, Tensor, Tensor], Tensor], max_passes: int, batch_size: int, stop_at: float | None, target: int | None, seed: int, progress: bool, name: str
) -> UAPResult:
    """The pass loop both algorithms share: shuffle, ``v = update(v, batch indices, clean
    predictions)`` per batch, the fooling rate after each pass, the best pass-end v, stop
    once the rate reaches ``stop_at`` (%)."""
    check_budget(eps, norm)
    model.eval()
    g = torch.Generator().manual_seed(seed)
    clean = predict(model, images)
    v = best = torch.zeros_like(images[0])
    history: list[float] = []
    for p in range(max_passes):
        order = torch.randperm(len(images), generator=g)
        for start in tqdm(range(0, len(images), batch_size), desc=f"{name} pass {p + 1}", disable=not progress, leave=False):
            v = update(v, order[start : start + batch_size], clean)
        history.append(fooling_rate(model, images, v, clean, target))
        if history[-1] > max(history[:-1], default=-1.0):
            best = v.clone()
        if stop_at is not None and history[-1] >= stop_at:
            break
    return UAPResult(best, len(history), history)


def deepfool_uap(
    model: nn.Module,
    images: Tensor,
    eps: float,
    norm: str = "inf",
    delta: float = 0.2,
    max_passes: int = 10,
    batch_size: int = 32,
    candidates: int = 10,
    overshoot: float = 0.02,
    max_iter: int = 50,
    target: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> UAPResult:
    """DeepFool-UAP: pass over the fitting images (N, C, H, W) in batches; for the images ``v``
    does not yet fool, a batched DeepFool step from x + v, added to v and projected onto the
    l_p ball. Stops when the fooling rate reaches 1 - delta or after ``max_passes``; returns the
    pass-end v that fooled the most fitting images (the rate is not monotone over passes)."""

    def update(v: Tensor, idx: Tensor, clean: Tensor) -> Tensor:
        xv = perturb(images[idx], v)
        with torch.no_grad():
            pred = model(xv).argmax(dim=1)
        todo = (pred != target) if target is not None else (pred == clean[idx])
        if not todo.any():
            return v
        dv = deepfool(model, xv[todo], candidates, overshoot, max_iter, target)  # (b, C, H, W)
        return project(v + dv.sum(dim=0), eps, norm)

    return _fit(model, images, eps, norm, update, max_passes, batch_size, 100.0 * (1 - delta), target, seed, progress, "DeepFool-UAP")


def sgd_uap(
    model: nn.Module,
    images: Tensor,
    eps: float,
    norm: str = "inf",
    max_passes: int = 10,
    batch_size: int = 32,
    step_size: float | None = None,
    clip_loss: float = 10.0,
    delta: float = 0.0,
    target: int | None = None,
    seed: int = 0,
    progress: bool = False,
) -> UAPResult:
    """SGD-UAP: minibatch ascent on the cross-entropy of the clean prediction (clipped at
    ``clip_loss`` per image so images already fooled stop pulling), one signed (l-inf) or
    normalised (l2) gradient step of ``step_size`` (default eps / 10) per batch, projected each
    step. Targeted: descent on the cross-entropy of ``target``."""
    step = step_size or eps / 10

    def update(v: Tensor, idx: Tensor, clean: Tensor) -> Tensor:
        vv = v.clone().requires_grad_(True)
        logits = model(perturb(images[idx], vv))
        if target is not None:
            loss = -F.cross_entropy(logits, torch.full_like(clean[idx], target))
        else:
            loss = F.cross_entropy(logits, clean[idx], reduction="none").clamp(max=clip_loss).mean()
        (grad,) = torch.autograd.grad(loss, vv)
        direction = grad.sign() if norm == "inf" else grad / (grad.norm() + 1e-12)
        return project(v + step * direction, eps, norm)

    return _fit(model, images, eps, norm, update, max_passes, batch_size, 100.0 * (1 - delta) if delta else None, target, seed, progress, "SGD-UAP")


ALGORITHMS: dict[str, Callable[..., UAPResult]] = {"deepfool": deepfool_uap, "sgd": sgd_uap}
