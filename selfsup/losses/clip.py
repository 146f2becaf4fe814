"""CLIP's symmetric InfoNCE (Radford et al., 2021) with a learnable, clamped logit scale; across
processes, features are gathered with gradient and each process scores its own rows (open_clip's
local loss). Also the loss's gradient in closed form."""

from __future__ import annotations

import math

import torch
import torch.nn as nn
import torch.nn.functional as F
from torch import Tensor

from ..core.distributed import gather_with_grad, rank, world_size

LOGIT_SCALE_INIT = math.log(1 / 0.07)
LOGIT_SCALE_MAX = math.log(100)


class LogitScale(nn.Module):
    """A learnable temperature: ``forward()`` returns exp(min(s, ln 100)), s initialised to ln(1/0.07)."""

    def __init__(self, init: float = LOGIT_SCALE_INIT, max_log: float = LOGIT_SCALE_MAX) -> None:
        super().__init__()
        self.log_scale = nn.Parameter(torch.tensor(float(init)))
        self.max_log = max_log

    def forward(self) -> Tensor:
        return self.log_scale.clamp(max=self.max_log).exp()


def clip_loss(image: Tensor, text: Tensor, logit_scale: Tensor | float, gather_distributed: bool = False) -> Tensor:
    """Mean of the image->text and text->image cross-entropies.

    image, text (n, D): unnormalised embeddings of n matching pairs; ``logit_scale`` multiplies
    the cosine similarities. With ``gather_distributed`` each process scores its own n rows
    against the N pairs of every process, so the mean over processes is the one-process loss
    on the whole batch.
    """
    n = image.shape[0]
    img, txt = F.normalize(image, dim=1), F.normalize(text, dim=1)
    dtype = torch.promote_types(img.dtype, torch.float32)  # bf16 features: the softmax in fp32
    if gather_distributed and world_size() > 1:
        labels = torch.arange(n, device=image.device) + rank() * n
        logits_img = (logit_scale * img @ gather_with_grad(txt).T).to(dtype)  # (n, N)
        logits_txt = (logit_scale * txt @ gather_with_grad(img).T).to(dtype)  # (n, N)
    else:  # one process: the text->image logits are the transpose, one matmul serves both
        labels = torch.arange(n, device=image.device)
        logits_img = (logit_scale * img @ txt.T).to(dtype)  # (n, n)
        logits_txt = logits_img.T
    return (F.cross_entropy(logits_img, labels) + F.cross_entropy(logits_txt, labels)) / 2


@torch.no_grad()
def clip_loss_grad(x: Tensor, y: Tensor, logit_scale: float) -> tuple[Tensor, Tensor]:
    """The gradient of the one-process :func:`clip_loss` with respect to the unnormalised image
    embeddings x (n, D) and text embeddings y (n, D), in closed form.

    With u = x / |x|, v = y / |y| and S = s U V^T, dL/dS = (P - I + Q - I) / 2n, where P is
    S's row softmax (image -> text) and Q its column softmax (text -> image); then
    dL/dU = s (dL/dS) V, dL/dV = s (dL/dS)^T U, and the normalisation's Jacobian
    (I - u u^T) / |x| carries them back to x and y.
    """
    n = x.shape[0]
    nx, ny = x.norm(dim=1, keepdim=True), y.norm(dim=1, keepdim=True)
    u, v = x / nx, y / ny
    s = u @ v.T * logit_scale  # (n, n)
    eye = torch.eye(n, dtype=x.dtype, device=x.device)
    g = (s.softmax(dim=1) - eye + s.softmax(dim=0) - eye) / (2 * n)
    gu, gv = logit_scale * g @ v, logit_scale * g.T @ u  # (n, D)

    def through_norm(grad: Tensor, unit: Tensor, norm: Tensor) -> Tensor:
        return (grad - unit * (unit * grad).sum(dim=1, keepdim=True)) / norm

    return through_norm(gu, u, nx), through_norm(gv, v, ny)
