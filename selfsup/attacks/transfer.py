"""The transfer matrix of universal perturbations, as a claim a reviewer can check: for each seed
a perturbation is fitted on each source model from its own random draw of fitting images, its
held-out fooling rate is measured on every target model, and beside it the fooling rate of
random noise of the same norm on that target (seeded alike). Each cell gets the mean over seeds,
a 95 % interval and the study rule's verdict on "fools more than noise" (paired by seed)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn as nn
from torch import Tensor

from ..study.stats import Difference, paired, superiority
from .uap import fooling_rate, random_perturbation

MARGIN = 1.0  # fooling-rate points over noise that count as an effect


def _cell(by_seed: dict[int, float]) -> dict[str, Any]:
    d = Difference(by_seed)
    return {"mean": d.mean, "interval": list(d.interval), "by_seed": by_seed}


def transfer_matrix(
    names: Sequence[str],
    models: Sequence[nn.Module],
    held_out: Sequence[Tensor],
    fit_images: Callable[[int, int], Tensor],
    fit: Callable[[nn.Module, Tensor], Tensor],
    eps: float,
    norm: str,
    seeds: Sequence[int],
    target: int | None = None,
) -> dict[str, Any]:
    """``fit_images(model index, seed)`` -> that seed's fitting images (N, C, H, W);
    ``fit(model, images)`` -> v. Returns ``fooling_rate[src][dst]``, ``noise_fooling_rate[dst]``
    (cells: mean, interval, by_seed) and ``above_noise[src][dst]`` (held / did not hold /
    inconclusive)."""
    for dst, images in zip(names, held_out):
        if tuple(images.shape[1:]) != tuple(held_out[0].shape[1:]):
            raise ValueError(f"{names[0]} and {dst} take images of different shapes; transfer needs the same input")
    rates = {src: {dst: {} for dst in names} for src in names}
    noise = {dst: {} for dst in names}
    for seed in seeds:
        v_noise = random_perturbation(tuple(held_out[0].shape[1:]), eps, norm, torch.Generator().manual_seed(seed))
        for i, (src, model) in enumerate(zip(names, models)):
            v = fit(model, fit_images(i, seed))
            for dst, target_model, images in zip(names, models, held_out):
                rates[src][dst][seed] = fooling_rate(target_model, images, v, target=target)
        for dst, target_model, images in zip(names, models, held_out):
            noise[dst][seed] = fooling_rate(target_model, images, v_noise, target=target)
    return {
        "seeds": list(seeds),
        "fooling_rate": {src: {dst: _cell(r) for dst, r in row.items()} for src, row in rates.items()},
        "noise_fooling_rate": {dst: _cell(r) for dst, r in noise.items()},
        "above_noise": {src: {dst: superiority(paired(r, noise[dst]), MARGIN) for dst, r in row.items()} for src, row in rates.items()},
    }


def matrix_lines(result: dict[str, Any], names: Sequence[str]) -> list[str]:
    """The matrix as text: mean [interval] per cell, the noise row, and each cell's verdict."""
    def text(cell: dict[str, Any]) -> str:
        low, high = cell["interval"]
        return f"{cell['mean']:.1f}" + (f" [{low:.1f}, {high:.1f}]" if len(cell["by_seed"]) > 1 else "")

    cells = {src: [text(result["fooling_rate"][src][dst]) for dst in names] for src in names}
    noise = [text(result["noise_fooling_rate"][dst]) for dst in names]
    width = max(len(s) for s in [*names, "same-norm noise", *noise, *(c for row in cells.values() for c in row)]) + 2
    lines = [" " * width + "".join(n.rjust(width) for n in names)]
    lines += [src.ljust(width) + "".join(c.rjust(width) for c in cells[src]) for src in names]
    lines.append("same-norm noise".ljust(width) + "".join(c.rjust(width) for c in noise))
    lines.append(f"fools more than noise by {MARGIN:g} point (paired by seed, 95 % t interval):")
    lines += [f"  {src} -> {dst}: {result['above_noise'][src][dst]}" for src in names for dst in names]
    return lines
