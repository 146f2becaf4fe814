"""Optimizers: AdamW, SGD and LARS, with biases and normalisation parameters excluded
from weight decay and from LARS's trust-ratio adaptation."""

from __future__ import annotations

from collections.abc import Iterable

import torch
import torch.nn as nn
from torch import Tensor

from ..config import OptimConfig


def param_groups(modules: Iterable[nn.Module], weight_decay: float) -> list[dict]:
    """Two groups: weights (decayed, LARS-adapted) and biases / norm / 1-d parameters (neither).

    Frozen parameters (``requires_grad=False``, e.g. EMA targets) are left out.
    """
    decay, no_decay = [], []
    for module in modules:
        for name, p in module.named_parameters():
            if not p.requires_grad:
                continue
            (no_decay if p.ndim <= 1 or name.endswith(".bias") else decay).append(p)
    return [
        {"params": decay, "weight_decay": weight_decay, "bias_or_norm": False},
        {"params": no_decay, "weight_decay": 0.0, "bias_or_norm": True},
    ]


class LARS(torch.optim.Optimizer):
    """LARS (You et al., 2017) as used by SimCLR and BYOL: SGD with momentum where each
    weight's update is scaled by the trust ratio ``eta * ||w|| / ||g + wd * w||``.
    Groups with ``bias_or_norm`` (biases, norms) get plain SGD with momentum.
    """

    def __init__(self, params, lr: float, momentum: float = 0.9, weight_decay: float = 0.0, eta: float = 0.02) -> None:
        super().__init__(params, {"lr": lr, "momentum": momentum, "weight_decay": weight_decay, "eta": eta, "bias_or_norm": False})

    @staticmethod
    def trust_ratio(p: Tensor, update: Tensor, eta: float) -> Tensor:
        w_norm, u_norm = torch.linalg.vector_norm(p), torch.linalg.vector_norm(update)
        ratio = eta * w_norm / u_norm
        return torch.where((w_norm > 0) & (u_norm > 0), ratio, torch.ones_like(ratio))

    @torch.no_grad()
    def step(self, closure=None):  # noqa: ANN001, ANN201 - torch Optimizer signature
        loss = closure() if closure is not None else None
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is None:
                    continue
                update = p.grad
                if not group["bias_or_norm"]:
                    if group["weight_decay"]:
                        update = update.add(p, alpha=group["weight_decay"])
                    update = update * self.trust_ratio(p, update, group["eta"])
                state = self.state[p]
                if "mu" not in state:
                    state["mu"] = torch.zeros_like(p)
                mu = state["mu"].mul_(group["momentum"]).add_(update)
                p.add_(mu, alpha=-group["lr"])
        return loss


def build_optimizer(cfg: OptimConfig, modules: Iterable[nn.Module]) -> torch.optim.Optimizer:
    groups = param_groups(modules, cfg.weight_decay)
    if cfg.name == "adamw":
        return torch.optim.AdamW(groups, lr=cfg.lr)
    if cfg.name == "sgd":
        return torch.optim.SGD(groups, lr=cfg.lr, momentum=cfg.momentum)
    if cfg.name == "lars":
        return LARS(groups, lr=cfg.lr, momentum=cfg.momentum, eta=cfg.lars_eta)
    raise ValueError(f"unknown optimizer '{cfg.name}'; valid optimizers: adamw, sgd, lars")
