import math

import pytest
import torch
import torch.nn as nn

from selfsup.config import OptimConfig
from selfsup.train.optim import LARS, build_optimizer, param_groups
from selfsup.core.schedules import cosine, linear_warmup, warmup_cosine


def test_cosine_endpoints_and_midpoint():
    assert cosine(0, 100, 1.0, 0.0) == 1.0
    assert cosine(100, 100, 1.0, 0.0) == 0.0
    assert cosine(150, 100, 1.0, 0.0) == 0.0
    assert cosine(50, 100, 0.996, 1.0) == pytest.approx(0.998)


def test_warmup_then_cosine():
    assert warmup_cosine(0, 100, 10, 1.0, 0.0) == pytest.approx(0.1)
    assert warmup_cosine(9, 100, 10, 1.0, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(10, 100, 10, 1.0, 0.0) == pytest.approx(1.0)
    assert warmup_cosine(100, 100, 10, 1.0, 0.1) == pytest.approx(0.1)


def test_biases_and_norms_are_excluded_from_weight_decay():
    model = nn.Sequential(nn.Linear(4, 8), nn.BatchNorm1d(8), nn.LayerNorm(8), nn.Linear(8, 2))
    decay, no_decay = param_groups([model], 0.1)
    assert decay["weight_decay"] == 0.1 and no_decay["weight_decay"] == 0.0
    assert {id(p) for p in decay["params"]} == {id(model[0].weight), id(model[3].weight)}
    assert len(no_decay["params"]) == 6  # 2 biases + BN weight/bias + LN weight/bias
    frozen = nn.Linear(3, 3).requires_grad_(False)
    assert all(len(g["params"]) == 0 for g in param_groups([frozen], 0.1))


def test_lars_trust_ratio_and_exclusions():
    w = nn.Parameter(torch.tensor([3.0, 4.0]))  # ||w|| = 5
    b = nn.Parameter(torch.tensor([1.0]))
    w.grad, b.grad = torch.tensor([0.6, 0.8]), torch.tensor([0.5])
    lr, wd, eta = 0.1, 0.01, 0.02
    opt = LARS([{"params": [w], "weight_decay": wd, "bias_or_norm": False}, {"params": [b], "weight_decay": 0.0, "bias_or_norm": True}], lr=lr, momentum=0.9, eta=eta)
    opt.step()
    update = torch.tensor([0.6, 0.8]) + wd * torch.tensor([3.0, 4.0])
    ratio = eta * 5.0 / update.norm()
    assert torch.allclose(w.detach(), torch.tensor([3.0, 4.0]) - lr * ratio * update, atol=1e-7)
    assert torch.allclose(b.detach(), torch.tensor([1.0 - lr * 0.5]))  # plain SGD: no ratio, no decay
    assert math.isclose(float(LARS.trust_ratio(torch.zeros(2), torch.ones(2), eta)), 1.0)


def test_build_optimizer_names_valid_choices():
    model = nn.Linear(2, 2)
    for name in ("adamw", "sgd", "lars"):
        assert build_optimizer(OptimConfig(name=name), [model]) is not None
    with pytest.raises(ValueError, match="adamw, sgd, lars"):
        build_optimizer(OptimConfig(name="adam"), [model])


def test_linear_warmup_endpoints():
    assert linear_warmup(0, 10, 0.04, 0.07) == 0.04
    assert abs(linear_warmup(5, 10, 0.04, 0.07) - 0.055) < 1e-12
    assert linear_warmup(10, 10, 0.04, 0.07) == linear_warmup(99, 10, 0.04, 0.07) == 0.07
    assert linear_warmup(0, 0, 0.04, 0.07) == 0.07  # no warm-up
