"""Worker functions for the 2-process gloo tests (torch.multiprocessing spawn imports them by name)."""

from __future__ import annotations

import os

import pytest
import torch
import torch.distributed as dist

from turbodiffusion.attention.jvp import DenseJVPAttention, attention_jvp_reference
from turbodiffusion.attention.sdpa import SDPAAttention, sdpa_attention
from turbodiffusion.attention.ulysses import UlyssesAttention
from turbodiffusion.testing.compare import max_rel
from turbodiffusion.testing.tolerances import KERNEL_FP32_REL_MAX
from turbodiffusion.training.flow import flow_matching_loss
from turbodiffusion.training.process_group import destroy_process_group

from .tiny import batch, tiny_teacher, trainable_copy

FSDP_STEPS = 3


def _init(rank: int, world: int, port: int) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)


def _all_done() -> None:
    """Wait for every rank before the group is torn down, so that no rank leaves while a peer still works
    (rank 0 saves the results). Called on success only, so a rank that failed does not leave the others
    waiting. (Added after an abort at exit in CI, 2026-12-04; that abort's cause was found on 2026-12-05 and
    is handled by ``destroy_process_group``.)"""
    dist.barrier()


def data_parallel_losses(rank: int, world: int) -> list[float]:
    """Losses of FSDP_STEPS AdamW steps on a 2-sample batch, split over ``world`` ranks (FSDP2 when > 1),
    with block-wise activation checkpointing in both layouts (recompute must not change a bit).

    Sample i always uses the generator seeded 100 + i (a fixed batch), so both layouts see identical noise.
    """
    from torch.distributed.device_mesh import init_device_mesh

    from turbodiffusion.training.fsdp import apply_activation_checkpointing, shard_model

    model = trainable_copy(tiny_teacher(0))
    apply_activation_checkpointing(model)
    if world > 1:
        shard_model(model, init_device_mesh("cpu", (world,)))
    opt = torch.optim.AdamW(model.parameters(), lr=1e-3)
    x0, ctx, _ = batch(1, b=2)
    mine = [rank] if world == 2 else [0, 1]
    losses = []
    for _ in range(FSDP_STEPS):
        total = torch.zeros(())
        for i in mine:
            out = flow_matching_loss(
                model, x0[i : i + 1], ctx[i : i + 1], generator=torch.Generator().manual_seed(100 + i)
            )
            (out.loss / len(mine)).backward()  # FSDP2 averages gradients over ranks: mean over the batch
            total += out.loss.detach() / len(mine)
        if world > 1:
            dist.all_reduce(total)
            total /= world
        opt.step()
        opt.zero_grad()
        losses.append(float(total))
    return losses


def fsdp_worker(rank: int, world: int, port: int, out_path: str) -> None:
    _init(rank, world, port)
    try:
        losses = data_parallel_losses(rank, world)
        smoke = [*_bf16_flow_losses(rank, world), *_sharded_rcm_losses(rank, world)]
        if rank == 0:
            torch.save(
                {"fp32": torch.tensor(losses, dtype=torch.float64), "smoke": torch.tensor(smoke)}, out_path
            )
        _all_done()
    finally:
        destroy_process_group()


def _bf16_flow_losses(rank: int, world: int) -> list[float]:
    """Three flow steps with FSDP2's bf16 mixed-precision policy on a fixed batch."""
    from torch.distributed.device_mesh import init_device_mesh

    from turbodiffusion.training.fsdp import shard_model

    model = shard_model(
        trainable_copy(tiny_teacher(0)), init_device_mesh("cpu", (world,)), param_dtype=torch.bfloat16
    )
    opt = torch.optim.AdamW(model.parameters(), lr=3e-3)
    x0, ctx, _ = batch(1, b=2)
    losses = []
    for _ in range(3):
        out = flow_matching_loss(
            model, x0[rank : rank + 1], ctx[rank : rank + 1], generator=torch.Generator().manual_seed(7)
        )
        out.loss.backward()
        opt.step()
        opt.zero_grad()
        losses.append(out.loss.item())
    return losses


def _sharded_rcm_losses(rank: int, world: int) -> list[float]:
    """One sCM step through an FSDP2-sharded JVP student (forward-mode AD over DTensor parameters)."""
    from torch.distributed.device_mesh import init_device_mesh

    from turbodiffusion.training.fsdp import shard_model
    from turbodiffusion.training.rcm import RCMLossConfig, enable_jvp_attention, scm_loss

    mesh = init_device_mesh("cpu", (world,))
    teacher = tiny_teacher(0)
    student = trainable_copy(teacher)
    enable_jvp_attention(student)
    shard_model(student, mesh)
    shard_model(teacher, mesh)
    x0, ctx, unc = batch(3, b=2)
    sl = slice(rank, rank + 1)
    out = scm_loss(
        student, teacher, x0[sl], ctx[sl], unc[sl], iteration=5, cfg=RCMLossConfig(warmup_iters=0),
        generator=torch.Generator().manual_seed(rank),
    )  # fmt: skip
    out.loss.backward()
    grads = [p.grad for p in student.parameters() if p.grad is not None]
    assert grads, "no gradient reached the sharded student"
    return [out.loss.item()]


def train_resume_worker(rank: int, world: int, port: int, straight: dict, split: dict, out_path: str) -> None:
    """train() under FSDP2 on ``world`` ranks: a straight run, and a run stopped at step 2 then resumed."""
    from turbodiffusion.training.config import config_from_dict
    from turbodiffusion.training.loop import train

    _init(rank, world, port)
    try:
        a = train(config_from_dict(straight))
        first = train(config_from_dict({**split, "run": {**split["run"], "max_steps": 2}}))
        resumed = train(config_from_dict(split))
        if rank == 0:
            torch.save(
                {
                    "straight": torch.tensor([[r["step"], r["loss"]] for r in a], dtype=torch.float64),
                    "split": torch.tensor(
                        [[r["step"], r["loss"]] for r in first + resumed], dtype=torch.float64
                    ),
                },
                out_path,
            )
        _all_done()
    finally:
        destroy_process_group()


def ulysses_worker(rank: int, world: int, port: int) -> None:
    """Each rank checks its output shard, input gradients and JVP against the single-rank result."""
    _init(rank, world, port)
    try:
        B, L, H, D = 2, 9 * world, 4, 8  # 9 tokens per rank: not a multiple of anything
        g = torch.Generator().manual_seed(21)
        q, k, v, dq, dk, dv, w = (torch.randn(B, L, H, D, generator=g) for _ in range(7))
        sl = slice(rank * L // world, (rank + 1) * L // world)

        full = [t.clone().requires_grad_(True) for t in (q, k, v)]
        ref = sdpa_attention(*full)
        (ref * w).sum().backward()

        mine = [t[:, sl].clone().requires_grad_(True) for t in (q, k, v)]
        out = UlyssesAttention(SDPAAttention(), dist.group.WORLD)(*mine)
        (out * w[:, sl]).sum().backward()
        assert max_rel(out, ref[:, sl]) <= KERNEL_FP32_REL_MAX, "forward shard differs"
        for a, b in zip(mine, full):
            assert max_rel(a.grad, b.grad[:, sl]) <= KERNEL_FP32_REL_MAX, "gradient shard differs"

        _, tangent = torch.func.jvp(
            UlyssesAttention(DenseJVPAttention(), dist.group.WORLD),
            (q[:, sl], k[:, sl], v[:, sl]),
            (dq[:, sl], dk[:, sl], dv[:, sl]),
        )
        _, ref_tangent = attention_jvp_reference(q, k, v, dq, dk, dv)
        assert max_rel(tangent, ref_tangent[:, sl]) <= KERNEL_FP32_REL_MAX, "JVP shard differs"

        odd = torch.zeros(B, L // world, 3, D)
        with pytest.raises(ValueError, match="3 heads, not divisible by the sequence-parallel size 2"):
            UlyssesAttention(SDPAAttention(), dist.group.WORLD)(odd, odd, odd)
        _all_done()
    finally:
        destroy_process_group()
