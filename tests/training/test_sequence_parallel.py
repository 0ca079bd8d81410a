"""Ulysses sequence parallelism inside WanDiT (sampling-and-training.md §7): 2 gloo ranks against 1 rank.

The spawned workers live in this module (``torch.multiprocessing.spawn`` imports them by name). Every
rank builds the same single-rank model from the same seed, so each compares against its own reference.
"""

from __future__ import annotations

import copy
import os
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.jvp import DenseJVPAttention
from turbodiffusion.attention.ulysses import UlyssesAttention
from turbodiffusion.models.checkpoint_io import CheckpointReader
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.dit import WanDiT
from turbodiffusion.testing.compare import max_rel
from turbodiffusion.testing.tolerances import DATA_PARALLEL_FP32_REL, KERNEL_FP32_REL_MAX
from turbodiffusion.training.config import RunConfig, config_from_dict
from turbodiffusion.training.ema import PowerEMA
from turbodiffusion.training.fsdp import apply_activation_checkpointing
from turbodiffusion.training.loop import _export, train
from turbodiffusion.training.process_group import destroy_process_group
from turbodiffusion.training.rcm import enable_jvp_attention

from .tiny import TINY, free_port, tiny_teacher, trainable_copy

# head_dim 16, 4 heads (2 per rank after the all-to-all), two blocks so the all-to-all's backward chains.
SP_CONFIG = WanDiTConfig(dim=64, ffn_dim=64, num_heads=4, num_layers=2, text_dim=16, text_len=8, freq_dim=16)
LATENT = (16, 2, 6, 6)  # grid 2 x 3 x 3 = 18 tokens: 9 per rank: odd, not a power of two
ODD_LATENT = (16, 1, 6, 10)  # grid 1 x 3 x 5 = 15 tokens: no 2-way split
# SLA needs head_dim 64; two heads so each rank keeps one after the all-to-all.
SLA_CONFIG = replace(SP_CONFIG, dim=128, num_heads=2, num_layers=1)
SLA_LATENT = (16, 2, 8, 16)  # 2 x 4 x 8 = 64 tokens: 4 query blocks of 16, each keeping 2 key blocks


def _init(rank: int, world: int, port: int) -> None:
    os.environ["MASTER_ADDR"], os.environ["MASTER_PORT"] = "127.0.0.1", str(port)
    dist.init_process_group("gloo", rank=rank, world_size=world)


def _inputs(seed: int, latent=LATENT) -> tuple[torch.Tensor, ...]:
    """(x, timestep, context, output weights, x tangent): identical on every rank (same seed)."""
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, *latent, generator=g)
    timestep = 1000.0 * torch.rand(2, generator=g)
    context = torch.randn(2, 5, 16, generator=g)  # Lt = 5 < text_len: padding on the path too
    weights = torch.randn(2, *latent, generator=g)  # a loss that weighs every output element differently
    return x, timestep, context, weights, torch.randn(2, *latent, generator=g)


def _check_against_one_rank(
    ref: WanDiT, sharded: list[WanDiT], inputs: tuple[torch.Tensor, ...], world: int
) -> None:
    """Forward and every parameter gradient of each sequence-parallel copy against the single-rank model."""
    x, t, ctx, w, _ = inputs
    out_ref = ref(x, t, ctx)
    (out_ref * w).sum().backward()
    for model in sharded:
        out = model(x, t, ctx)
        (out * w).sum().backward()
        assert max_rel(out, out_ref) <= KERNEL_FP32_REL_MAX, "2-rank output differs from 1 rank"
        for (name, p), (_, p_ref) in zip(model.named_parameters(), ref.named_parameters(), strict=True):
            assert p.grad is not None, f"{name} got no gradient"
            # The gather's adjoint sums over ranks, so the group mean is the single-rank gradient.
            mean = p.grad.clone()
            dist.all_reduce(mean)
            mean /= world
            assert max_rel(mean, p_ref.grad) <= KERNEL_FP32_REL_MAX, f"{name}: gradient differs"


def model_worker(rank: int, world: int, port: int, out_dir: str) -> None:
    """Forward, every parameter gradient and the JVP of the sharded model against the single-rank model."""
    _init(rank, world, port)
    try:
        ref = trainable_copy(tiny_teacher(0, config=SP_CONFIG))
        sp, recomputed = copy.deepcopy(ref), copy.deepcopy(ref)
        sp.enable_sequence_parallel(dist.group.WORLD)
        assert sp.sequence_parallel_size == world
        # Block-wise recompute replays each block's all-to-alls in backward, on every rank in step.
        recomputed.enable_sequence_parallel(dist.group.WORLD)
        apply_activation_checkpointing(recomputed)
        x, t, ctx, _, dx = inputs = _inputs(11)
        _check_against_one_rank(ref, [sp, recomputed], inputs, world)
        # The split is real: one rank's patch embedding gradient alone is not the whole-sequence one.
        own = sp.patch_embedding.weight.grad / world
        assert max_rel(own, ref.patch_embedding.weight.grad) > 1e-2

        # SLA (learned proj_l inside the wrapped backend): sparse and linear branches both active.
        sla = AttentionConfig("sla", sla_topk=0.5, block_q=16, block_k=16)
        sla_ref = trainable_copy(tiny_teacher(1, attention=sla, config=SLA_CONFIG))
        sla_sp = copy.deepcopy(sla_ref)
        sla_sp.enable_sequence_parallel(dist.group.WORLD)
        _check_against_one_rank(sla_ref, [sla_sp], _inputs(13, SLA_LATENT), world)
        # The export writes the plain TurboWan names, not the wrapper's attn_op.inner.
        path = Path(out_dir) / "sla_sp.safetensors"
        _export(sla_sp, PowerEMA(sla_sp), path, rank)
        if rank == 0:
            assert set(CheckpointReader(path)) == set(sla_ref.state_dict())

        # rCM's student: the JVP backend goes inside the Ulysses wrappers, which must survive the swap.
        ref_jvp, sp_jvp = copy.deepcopy(ref), sp
        enable_jvp_attention(ref_jvp)
        assert enable_jvp_attention(sp_jvp) == 2 * SP_CONFIG.num_layers  # self- and cross-attention
        op = sp_jvp.blocks[0].self_attn.attn_op
        assert isinstance(op, UlyssesAttention) and isinstance(op.inner, DenseJVPAttention)
        _, tangent = torch.func.jvp(lambda xx: sp_jvp(xx, t, ctx), (x,), (dx,))
        _, tangent_ref = torch.func.jvp(lambda xx: ref_jvp(xx, t, ctx), (x,), (dx,))
        assert max_rel(tangent, tangent_ref) <= KERNEL_FP32_REL_MAX, "2-rank JVP differs from 1 rank"

        x_odd = _inputs(12, ODD_LATENT)[0]
        with pytest.raises(
            ValueError,
            match=r"sequence-parallel size 2 must divide the token count L = 1\*3\*5 = 15 .*both: 1;",
        ):
            sp(x_odd, t, ctx)
        with pytest.raises(ValueError, match="sequence parallelism is already enabled \\(over 2 ranks\\)"):
            sp.enable_sequence_parallel(dist.group.WORLD)
        three_heads = WanDiT(replace(SP_CONFIG, dim=48, num_heads=3))
        with pytest.raises(
            ValueError,
            match="sequence-parallel size 2 must divide num_heads=3 .*valid sizes for 3 heads: 1, 3$",
        ):
            three_heads.enable_sequence_parallel(dist.group.WORLD)
        assert not isinstance(three_heads.blocks[0].self_attn.attn_op, UlyssesAttention)  # nothing half-done
    finally:
        destroy_process_group()


def test_sequence_parallel_model_matches_single_rank(tmp_path):
    mp.spawn(model_worker, args=(2, free_port(), str(tmp_path)), nprocs=2)


def test_enable_sequence_parallel_rejects_a_non_group():
    model = WanDiT(TINY)
    with pytest.raises(ValueError, match="group must be a torch.distributed ProcessGroup \\(got NoneType\\)"):
        model.enable_sequence_parallel(None)
    assert model.sequence_parallel_size == 1


def loop_worker(rank: int, world: int, port: int, configs: dict, out_path: str) -> None:
    """train() with run.sequence_parallel = world: FSDP2 over both ranks, one sequence-parallel group.

    A spy on enable_sequence_parallel records the group size of every network the loop splits, so a
    loop that silently ran plain data parallelism on duplicated batches (same losses) still fails.
    """
    from unittest import mock

    _init(rank, world, port)
    enable = WanDiT.enable_sequence_parallel
    sizes = []

    def spy(model: WanDiT, group: dist.ProcessGroup) -> None:
        sizes.append(dist.get_world_size(group))
        enable(model, group)

    try:
        with mock.patch.object(WanDiT, "enable_sequence_parallel", spy):
            losses = {
                kind: [r["loss" if kind == "flow" else "loss_scm"] for r in train(config_from_dict(cfg))]
                for kind, cfg in configs.items()
            }
        if rank == 0:
            saved = {k: torch.tensor(v, dtype=torch.float64) for k, v in losses.items()}
            torch.save({**saved, "sp_sizes": torch.tensor(sizes)}, out_path)
    finally:
        destroy_process_group()


@pytest.mark.slow  # 6-8 s on an idle 2-core box, ~20 s under load: 4 training runs, two in 2 processes
def test_training_loop_with_sequence_parallel_matches_one_rank(tmp_path):
    from .test_loop import make_cache, tiny_config

    cache = make_cache(tmp_path)
    configs, single = {}, {}
    for kind in ("flow", "rcm"):
        # rcm: warm-up of 4 iterations, so every step is a student sCM step through torch.func.jvp.
        one = tiny_config(kind, cache, tmp_path / f"{kind}-1", max_steps=3, checkpoint_every=3)
        one["rcm"]["loss"]["warmup_iters"] = 4
        key = "loss" if kind == "flow" else "loss_scm"
        single[kind] = [r[key] for r in train(config_from_dict(one))]
        configs[kind] = {
            **one,
            "run": {**one["run"], "output_dir": str(tmp_path / f"{kind}-sp"), "sequence_parallel": 2},
        }
    out = tmp_path / "losses.pt"
    mp.spawn(loop_worker, args=(2, free_port(), configs, str(out)), nprocs=2)
    saved = torch.load(out, weights_only=True)
    for kind, ref in single.items():
        got = saved[kind].tolist()
        assert len(got) == len(ref) == 3
        assert len(set(ref)) == 3  # the run trains, so equal losses compare non-trivial updates
        for a, b in zip(got, ref):
            assert abs(a - b) <= DATA_PARALLEL_FP32_REL * abs(b), f"{kind}: {got} vs one rank {ref}"
    # flow: the student; rcm: student, fake score and teacher: every network split over 2 ranks.
    assert saved["sp_sizes"].tolist() == [2] * 4
    assert (tmp_path / "flow-sp" / "final.safetensors").is_file()


def test_sequence_parallel_config_rules(tmp_path):
    with pytest.raises(ValueError, match=r"run.sequence_parallel must be >= 1 \(got 0\)"):
        RunConfig(sequence_parallel=0)
    from .test_loop import tiny_config

    cfg = tiny_config("flow", tmp_path / "no-cache", tmp_path / "out", sequence_parallel=2)
    # Checked before any data is read or model built: a single process cannot host a 2-rank group.
    with pytest.raises(
        ValueError, match=r"run.sequence_parallel=2 must divide the number of ranks \(1\); use one of 1$"
    ):
        train(config_from_dict(cfg))
