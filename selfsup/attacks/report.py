"""Fit a universal perturbation against a run and measure it: fooling rates on the fitting and
held-out images, accuracy before and after, the noise floor, where predictions are pushed, the
fooling rate against the number of fitting images; save and reload ``v``; plots."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch
import torch.nn as nn
from safetensors import safe_open
from torch import Tensor

from ..safetensors_io import save_safetensors
from .classifier import INPUT_SCALE
from .uap import ALGORITHMS, check_budget, fooling_rate, perturb, predict, random_perturbation


def lp_norm(v: Tensor, norm: str) -> float:
    return v.abs().max().item() if norm == "inf" else v.norm().item()


def measure(model: nn.Module, v: Tensor, eps: float, norm: str, fit: Tensor, held_out: Tensor, labels: Tensor, target: int | None = None, seed: int = 0) -> dict[str, Any]:
    """Fooling rates and accuracies of ``v`` (labels are the held-out images' true classes)."""
    clean = predict(model, held_out)
    adv = predict(model, perturb(held_out, v))
    noise = random_perturbation(tuple(v.shape), eps, norm, torch.Generator().manual_seed(seed))
    classes = int(model(held_out[:1]).shape[1])
    return {
        "fooling_rate_fit": fooling_rate(model, fit, v, target=target),
        "fooling_rate_held_out": fooling_rate(model, held_out, v, clean, target),
        "noise_fooling_rate_held_out": fooling_rate(model, held_out, noise, clean, target),
        "clean_accuracy": 100.0 * (clean == labels).float().mean().item(),
        "perturbed_accuracy": 100.0 * (adv == labels).float().mean().item(),
        "norm_of_v": lp_norm(v, norm),
        "pushed_to": torch.bincount(adv[adv != clean], minlength=classes).tolist(),  # where changed predictions went
    }


def fit_uap(model: nn.Module, fit: Tensor, algo: str, eps: float, norm: str, **kwargs: Any):
    if algo not in ALGORITHMS:
        raise ValueError(f"unknown algorithm '{algo}'; valid: {', '.join(ALGORITHMS)}")
    check_budget(eps, norm)
    return ALGORITHMS[algo](model, fit, eps, norm, **kwargs)


def fooling_vs_fit_size(model: nn.Module, fit: Tensor, held_out: Tensor, algo: str, eps: float, norm: str, sizes: list[int], **kwargs: Any) -> dict[int, float]:
    """Held-out fooling rate of a perturbation fitted on the first n images, for each n."""
    return {n: fooling_rate(model, held_out, fit_uap(model, fit[:n], algo, eps, norm, **kwargs).v) for n in sizes}


def save_uap(path: Path, v: Tensor, meta: dict[str, Any]) -> Path:
    save_safetensors({"v": v.contiguous()}, path, {k: json.dumps(val) for k, val in meta.items()})
    return path


def load_uap(path: str | Path) -> tuple[Tensor, dict[str, Any]]:
    if not Path(path).is_file():
        raise FileNotFoundError(f"no perturbation file at {path}")
    with safe_open(str(path), "pt") as f:
        return f.get_tensor("v"), {k: json.loads(val) for k, val in (f.metadata() or {}).items()}


def uap_metadata(run_dir: Path, algo: str, eps: float, norm: str, target: int | None, passes: int) -> dict[str, Any]:
    return {"run": str(run_dir), "algo": algo, "eps": eps, "eps_0_255": eps * 255, "norm": norm, "input_scale": INPUT_SCALE, "target": target, "passes": passes}


def plot_uap(v: Tensor, clean: Tensor, model: nn.Module, history: list[float], pushed_to: list[int], path: Path, class_names: list[str] | None = None) -> Path:
    """The perturbation (rescaled to [0, 1]), the fooling rate on the fitting images after each
    pass, where the changed predictions went (histogram), and 6 clean and perturbed images with
    their predictions."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    def show(ax, image: Tensor, title: str) -> None:  # noqa: ANN001
        pixels = image.permute(1, 2, 0).clamp(0, 1).numpy()
        ax.imshow(pixels[..., 0] if pixels.shape[-1] == 1 else pixels, cmap="gray" if pixels.shape[-1] == 1 else None, vmin=0, vmax=1)
        ax.set_title(title, fontsize=8)
        ax.axis("off")

    names = class_names or [str(i) for i in range(1000)]
    images = clean[:6]
    adv = perturb(images, v)
    p_clean, p_adv = predict(model, images), predict(model, adv)
    fig = plt.figure(figsize=(14, 6.4))
    grid = fig.add_gridspec(3, 7)
    show(fig.add_subplot(grid[0, 0]), (v - v.min()) / (v.max() - v.min() + 1e-12), "v (rescaled)")
    curve = fig.add_subplot(grid[0, 1:4])
    curve.plot(range(1, len(history) + 1), history, marker="o")
    curve.set(xlabel="pass", ylabel="fooling rate (%)", ylim=(0, 100), title="fooling rate on the fitting images")
    curve.grid(alpha=0.3)
    bars = fig.add_subplot(grid[0, 4:])
    bars.bar([names[c] for c in range(len(pushed_to))], pushed_to)
    bars.set(xlabel="predicted class under v", ylabel="images", title="where changed predictions went")
    for i in range(len(images)):
        show(fig.add_subplot(grid[1, i + 1]), images[i], f"clean: {names[p_clean[i]]}")
        show(fig.add_subplot(grid[2, i + 1]), adv[i], f"x + v: {names[p_adv[i]]}")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
