"""Exponential moving averages of parameters (BYOL targets, DINO teachers)."""

from __future__ import annotations

import torch
import torch.nn as nn


class EMA:
    """Keeps (student, teacher) pairs; ``update(m)`` sets teacher = m * teacher + (1 - m) * student.

    Buffers (BatchNorm statistics) are copied, as BYOL's and DINO's reference code do.
    """

    def __init__(self, pairs: list[tuple[nn.Module, nn.Module]]) -> None:
        self.student_params: list[torch.Tensor] = []
        self.teacher_params: list[torch.Tensor] = []
        self.student_buffers: list[torch.Tensor] = []
        self.teacher_buffers: list[torch.Tensor] = []
        for student, teacher in pairs:
            for (ns, ps), (nt, pt) in zip(student.named_parameters(), teacher.named_parameters(), strict=True):
                assert ns == nt, f"EMA pair mismatch: {ns} vs {nt}"
                pt.requires_grad_(False)
                self.student_params.append(ps)
                self.teacher_params.append(pt)
            for bs, bt in zip(student.buffers(), teacher.buffers(), strict=True):
                self.student_buffers.append(bs)
                self.teacher_buffers.append(bt)

    @torch.no_grad()
    def update(self, momentum: float) -> None:
        torch._foreach_lerp_(self.teacher_params, [p.detach() for p in self.student_params], 1.0 - momentum)
        for bs, bt in zip(self.student_buffers, self.teacher_buffers):
            bt.copy_(bs)
