"""Batch statistics of the global batch under DDP: BatchNorm over every process's samples, as
SimCLR's "global BN" and BYOL's synchronised BN. On GPUs torch's SyncBatchNorm does it; on CPU
processes (gloo), where SyncBatchNorm does not run, :class:`GlobalBatchNorm1d` does it for the
projection and prediction heads' BatchNorm1d."""

from __future__ import annotations

import torch
import torch.distributed.nn.functional as dist_nn
import torch.nn as nn
from torch import Tensor

from ..core.distributed import is_distributed


class GlobalBatchNorm1d(nn.BatchNorm1d):
    """BatchNorm1d (B, C) whose mean and variance are over the global batch; gradients flow back
    through the all-reduces to every process's samples. One process: plain BatchNorm1d."""

    def forward(self, x: Tensor) -> Tensor:
        if not (self.training and is_distributed()):
            return super().forward(x)
        count = dist_nn.all_reduce(torch.full((1,), float(x.shape[0]), device=x.device, dtype=x.dtype))
        mean = dist_nn.all_reduce(x.sum(0)) / count  # (C,)
        var = dist_nn.all_reduce(((x - mean) ** 2).sum(0)) / count  # biased, as BatchNorm normalises with
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                self.running_mean.lerp_(mean, self.momentum)
                self.running_var.lerp_(var * count / (count - 1).clamp(min=1), self.momentum)
        out = (x - mean) / torch.sqrt(var + self.eps)
        return out * self.weight + self.bias if self.affine else out


def _global(bn: nn.BatchNorm1d) -> GlobalBatchNorm1d:
    out = GlobalBatchNorm1d(bn.num_features, bn.eps, bn.momentum if bn.momentum is not None else 0.1, bn.affine, bn.track_running_stats)
    if bn.affine:
        out.weight, out.bias = bn.weight, bn.bias  # the same parameters: optimizers and EMA pairs keep them
    if bn.track_running_stats:
        out.running_mean, out.running_var, out.num_batches_tracked = bn.running_mean, bn.running_var, bn.num_batches_tracked
    out.train(bn.training)
    return out


def synchronise_batchnorm(module: nn.Module, cuda: bool) -> nn.Module:
    """``module`` with every BatchNorm over the global batch: torch's SyncBatchNorm on GPUs, the
    heads' BatchNorm1d made :class:`GlobalBatchNorm1d` on CPUs (a CPU backbone's BatchNorm2d stays per process)."""
    if cuda:
        return nn.SyncBatchNorm.convert_sync_batchnorm(module)
    for name, child in module.named_children():
        if type(child) is nn.BatchNorm1d:
            setattr(module, name, _global(child))
        else:
            synchronise_batchnorm(child, cuda)
    return module
