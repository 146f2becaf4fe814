"""torchrun / DDP helpers. Each is a no-op (or the identity) on a single process."""

from __future__ import annotations

import os

import torch
import torch.distributed as dist
from torch import Tensor


def is_distributed() -> bool:
    return dist.is_available() and dist.is_initialized()


def world_size() -> int:
    return dist.get_world_size() if is_distributed() else 1


def rank() -> int:
    return dist.get_rank() if is_distributed() else 0


def is_main() -> bool:
    return rank() == 0


def init_from_env() -> torch.device:
    """Join the process group torchrun describes (gloo on CPU, nccl on GPU); return this rank's device."""
    if "WORLD_SIZE" not in os.environ or int(os.environ["WORLD_SIZE"]) <= 1 or is_distributed():
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if torch.cuda.is_available():
        local = int(os.environ.get("LOCAL_RANK", 0))
        torch.cuda.set_device(local)
        dist.init_process_group("nccl")
        return torch.device("cuda", local)
    dist.init_process_group("gloo")
    return torch.device("cpu")


class _GatherWithGrad(torch.autograd.Function):
    """all_gather whose backward sums every rank's gradient for this rank's slice."""

    @staticmethod
    def forward(ctx, x: Tensor) -> Tensor:  # noqa: ANN001 - autograd signature
        parts = [torch.empty_like(x) for _ in range(world_size())]
        dist.all_gather(parts, x.contiguous())
        return torch.cat(parts, dim=0)

    @staticmethod
    def backward(ctx, grad: Tensor) -> Tensor:  # noqa: ANN001 - autograd signature
        grad = grad.contiguous().clone()
        dist.all_reduce(grad)
        n = grad.shape[0] // world_size()
        return grad[rank() * n : (rank() + 1) * n]


def gather_with_grad(x: Tensor) -> Tensor:
    """Concatenate ``x`` (n, ...) from every rank -> (world * n, ...); gradients flow back to each rank."""
    if not is_distributed():
        return x
    return _GatherWithGrad.apply(x)


def all_reduce_mean(x: Tensor) -> Tensor:
    """Mean of ``x`` over ranks (in place where distributed); returns ``x``."""
    if is_distributed():
        dist.all_reduce(x)
        x /= world_size()
    return x


def all_reduce_sum(x: Tensor) -> Tensor:
    """Sum of ``x`` over ranks (in place where distributed); returns ``x``."""
    if is_distributed():
        dist.all_reduce(x)
    return x


def all_reduce_max(x: Tensor) -> Tensor:
    """Maximum of ``x`` over ranks (in place where distributed); returns ``x``."""
    if is_distributed():
        dist.all_reduce(x, op=dist.ReduceOp.MAX)
    return x


def barrier() -> None:
    if is_distributed():
        dist.barrier()
