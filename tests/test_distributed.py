"""Two gloo processes on the CPU: gathered negatives (SimCLR, CLIP), DINO's centre and
Sinkhorn-Knopp give the one-process results."""

import socket
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from selfsup.losses import TeacherTargets, clip_loss, ntxent_loss, sinkhorn_knopp
from selfsup.core.distributed import all_reduce_mean


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def _gloo(rank: int, port: int) -> Iterator[None]:
    """This process as rank ``rank`` of a 2-process gloo group for the block."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=2)
    try:
        yield
    finally:
        dist.destroy_process_group()


def _data():
    g = torch.Generator().manual_seed(0)
    return torch.randn(8, 5, generator=g), torch.randn(8, 5, generator=g), torch.randn(5, 4, generator=g)


def _paired_loss(name: str, a, b, gather: bool):  # noqa: ANN001, ANN202
    if name == "ntxent":
        return ntxent_loss(a, b, temperature=0.3, gather_distributed=gather)
    return clip_loss(a, b, 1 / 0.07, gather_distributed=gather)


def _worker(rank: int, port: int, out_path: str, name: str) -> None:
    with _gloo(rank, port):
        x1, x2, w0 = _data()
        w = w0.clone().requires_grad_(True)
        part = slice(rank * 4, rank * 4 + 4)
        loss = _paired_loss(name, x1[part] @ w, x2[part] @ w, gather=True)
        loss.backward()
        grad = all_reduce_mean(w.grad.clone())  # what DDP does to parameter gradients
        mean_loss = all_reduce_mean(loss.detach().clone())
        if rank == 0:
            torch.save({"loss": mean_loss, "grad": grad}, out_path)


@pytest.mark.parametrize("name", ["ntxent", "clip"])
def test_gathered_loss_equals_single_process(tmp_path, name):
    out = tmp_path / "result.pt"
    mp.spawn(_worker, args=(_free_port(), str(out), name), nprocs=2, join=True)
    result = torch.load(out, weights_only=True)
    x1, x2, w0 = _data()
    w = w0.clone().requires_grad_(True)
    loss = _paired_loss(name, x1 @ w, x2 @ w, gather=False)
    loss.backward()
    assert torch.allclose(result["loss"], loss.detach(), atol=1e-6)
    assert torch.allclose(result["grad"], w.grad, atol=1e-6)


def _teacher_logits():
    return torch.randn(12, 7, generator=torch.Generator().manual_seed(1))


def _targets_worker(rank: int, port: int, out_path: str) -> None:
    with _gloo(rank, port):
        part = _teacher_logits()[rank * 6 : rank * 6 + 6]
        targets = TeacherTargets(7, "center", momentum=0.9)
        targets(part, temp=0.1)
        sk = sinkhorn_knopp(part, temp=0.5)
        parts = [torch.empty_like(sk) for _ in range(2)]
        dist.all_gather(parts, sk)
        if rank == 0:
            torch.save({"center": targets.center, "sinkhorn": torch.cat(parts)}, out_path)


def test_center_and_sinkhorn_are_computed_over_all_processes(tmp_path):
    out = tmp_path / "result.pt"
    mp.spawn(_targets_worker, args=(_free_port(), str(out)), nprocs=2, join=True)
    result = torch.load(out, weights_only=True)
    logits = _teacher_logits()
    targets = TeacherTargets(7, "center", momentum=0.9)
    targets(logits, temp=0.1)
    assert torch.allclose(result["center"], targets.center, atol=1e-6)
    assert torch.allclose(result["center"], 0.1 * logits.mean(0, keepdim=True), atol=1e-6)
    assert torch.allclose(result["sinkhorn"], sinkhorn_knopp(logits, temp=0.5), atol=1e-5)
