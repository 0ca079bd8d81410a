"""The training loop behind ``turbodiffusion train {flow,sla,rcm}``: build, shard, resume, step, log, save.

One function, ``train(cfg)``, runs on one process or under ``torchrun`` (the caller initialises the
process group; with more than one rank every network is sharded with FSDP2 over all ranks). With
``run.sequence_parallel = P > 1`` the ranks form a (world / P) x P data-parallel x sequence-parallel
mesh: every network splits its tokens over its P-rank group (Ulysses, §7), and the group's ranks read
the same samples and draw the same noise, so the effective batch is world / P times data.batch_size.
Every random draw of step n on data-parallel rank r comes from a generator seeded with (run.seed, n, r),
so the trainer state to resume is just the step and the sampler position; a resumed run reproduces the
losses the uninterrupted run would have logged.

rCM schedule (§4): during the tangent warm-up every step is a student sCM step; afterwards step n is a
student step (100·sCM + DMD) when ``n % critic_freq == 0``, else a fake-score step; the student's
rollout length cycles 1, 2, 3, 4 with the student-update count.
"""

from __future__ import annotations

import copy
import json
import logging
import time
from collections.abc import Callable
from pathlib import Path

import torch
import torch.distributed as dist
from torch import nn

from .cache import LatentDataset
from .checkpoint import latest_checkpoint, load_checkpoint, save_checkpoint
from .config import TrainConfig
from .data import ResumableSampler
from .ema import PowerEMA
from .flow import flow_matching_loss
from .metrics import MetricsLogger
from .rcm import dmd_loss, enable_jvp_attention, fake_score_loss, scm_loss
from .sla_finetune import sla_distill_loss

logger = logging.getLogger(__name__)

_DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16}
# LR warm-up starts at this fraction of the target LR (§4).
_WARMUP_START = 1e-6


def _world() -> tuple[int, int]:
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


def _step_generator(seed: int, step: int, rank: int) -> torch.Generator:
    # Distinct, reproducible stream per (seed, step, rank): resuming needs no RNG state.
    return torch.Generator().manual_seed((seed * 1_000_003 + step) * 4099 + rank)


def _parallel_layout(
    world: int, sequence_parallel: int, device: torch.device
) -> tuple[int, int, dist.ProcessGroup | None]:
    """(data-parallel rank, data-parallel size, sequence-parallel group or None) of this rank.

    Raises ValueError when ``sequence_parallel`` does not divide the number of ranks.
    """
    if world % sequence_parallel:
        valid = [d for d in range(1, world + 1) if world % d == 0]
        raise ValueError(
            f"run.sequence_parallel={sequence_parallel} must divide the number of ranks ({world}); "
            f"use one of {', '.join(map(str, valid))}"
        )
    if sequence_parallel == 1:
        return _world()[0], world, None
    from torch.distributed.device_mesh import init_device_mesh

    # Row-major mesh: ranks r*P .. r*P + P - 1 form sequence-parallel group r (neighbours, which on a
    # multi-GPU host keeps each group's all-to-alls on one node's links).
    mesh = init_device_mesh(
        device.type, (world // sequence_parallel, sequence_parallel), mesh_dim_names=("dp", "sp")
    )
    return mesh.get_local_rank("dp"), world // sequence_parallel, mesh.get_group("sp")


def build_dit(cfg: TrainConfig, attention=None, *, init_missing=None) -> nn.Module:
    """The DiT the model section names: loaded from the checkpoint, or randomly initialised (seeded)."""
    from ..attention import AttentionConfig
    from ..models.loading import load_dit
    from ..models.wan.dit import WanDiT

    attention = attention or AttentionConfig()
    dtype = _DTYPES[cfg.model.dtype]
    if cfg.model.checkpoint is not None:
        return load_dit(
            cfg.model.checkpoint,
            cfg.model.dit_config(),
            attention=attention,
            dtype=dtype,
            init_missing=init_missing,
        ).train()
    torch.manual_seed(cfg.model.init_seed)  # nn.Module init draws from the global generator only
    model = WanDiT(cfg.model.dit_config(), attention).to(dtype)
    if attention.has_sla_weights:
        for name, p in model.named_parameters():
            if ".proj_l." in name:
                nn.init.zeros_(p)  # SLA's proj_l starts at zero (§5), as load_dit(init_missing="sla") does
    return model.train()


def _lr_factor(step: int, warmup: int) -> float:
    if warmup == 0 or step >= warmup:
        return 1.0
    return _WARMUP_START + (1.0 - _WARMUP_START) * step / warmup


def _adamw(model: nn.Module, lr: float, cfg: TrainConfig) -> torch.optim.Optimizer:
    o = cfg.optim
    return torch.optim.AdamW(model.parameters(), lr=lr, betas=o.betas, weight_decay=o.weight_decay, eps=o.eps)


def _networks(cfg: TrainConfig) -> dict[str, tuple[nn.Module, float | None]]:
    """name -> (module, lr or None for frozen); built identically on every rank."""
    from ..attention import AttentionConfig

    if cfg.kind == "flow":
        return {"student": (build_dit(cfg), cfg.optim.lr)}
    if cfg.kind == "sla":
        student = build_dit(cfg, AttentionConfig("sla", sla_topk=cfg.sla.topk), init_missing="sla")
        teacher = build_dit(cfg).requires_grad_(False).eval()
        return {"student": (student, cfg.optim.lr), "teacher": (teacher, None)}
    teacher = build_dit(cfg).requires_grad_(False).eval()
    student = copy.deepcopy(teacher).requires_grad_(True).train()
    enable_jvp_attention(student)
    fake = copy.deepcopy(teacher).requires_grad_(True).train()
    return {
        "student": (student, cfg.optim.lr),
        "fake_score": (fake, cfg.rcm.fake_lr),
        "teacher": (teacher, None),
    }


def _mean_over_ranks(value: torch.Tensor) -> float:
    value = value.detach().float().clone()
    if _world()[1] > 1:
        dist.all_reduce(value)
        value /= _world()[1]
    return float(value)


def train(
    cfg: TrainConfig,
    *,
    device: torch.device | str = "cpu",
    on_step: Callable[[int, dict], None] | None = None,
) -> list[dict]:
    """Run (or resume) training up to ``cfg.run.max_steps``; returns this call's per-step records.

    Checkpoints go to ``run.output_dir/checkpoints`` (DCP), the log to ``run.output_dir/log.jsonl``,
    and the student's EMA weights to ``run.output_dir/final.safetensors`` (loadable with ``load_dit``).
    ``device``: where this rank computes (the CLI passes ``cuda:LOCAL_RANK`` when a GPU is present).
    ``on_step(step, record)`` runs after each step on every rank (progress hooks, tests).
    """
    from torch.distributed.device_mesh import init_device_mesh
    from tqdm import tqdm

    from .fsdp import apply_activation_checkpointing, shard_model

    rank, world = _world()
    device = torch.device(device)
    dp_rank, dp_size, sp_group = _parallel_layout(world, cfg.run.sequence_parallel, device)
    out = Path(cfg.run.output_dir)
    data = LatentDataset(cfg.data.cache_dir)
    # Keyed by the data-parallel rank: the ranks of one sequence-parallel group read the same samples.
    sampler = ResumableSampler(
        len(data), batch_size=cfg.data.batch_size, seed=cfg.data.seed, rank=dp_rank, world_size=dp_size
    )
    uncond = data.uncond()
    uncond = uncond.to(device) if uncond is not None else None
    if cfg.run.mixed_precision and world == 1:
        logger.warning(
            "run.mixed_precision is an FSDP2 policy and needs more than one rank; computing in %s",
            cfg.model.dtype,
        )
    nets = _networks(cfg)
    for model, lr in nets.values():
        model.to(device)
        if sp_group is not None:
            # Before FSDP2: its average over all ranks is what turns the gather's summed gradients
            # (WanDiT.enable_sequence_parallel) into the single-rank gradient.
            model.enable_sequence_parallel(sp_group)
        if cfg.run.activation_checkpointing and lr is not None:
            apply_activation_checkpointing(model)
        if world > 1:
            mesh = init_device_mesh(device.type, (world,))
            shard_model(model, mesh, param_dtype=torch.bfloat16 if cfg.run.mixed_precision else None)
    student_config = nets["student"][0].config
    opts = {name: _adamw(m, lr, cfg) for name, (m, lr) in nets.items() if lr is not None}
    base_lr = {name: lr for name, (_, lr) in nets.items() if lr is not None}
    trained = {name: (nets[name][0], opt) for name, opt in opts.items()}
    ema = PowerEMA(nets["student"][0], cfg.run.ema_sigma_rel)

    step, student_updates = 0, 0
    ckpt = latest_checkpoint(out / "checkpoints")
    if ckpt is not None:
        state = load_checkpoint(ckpt, trained, _trainer_state(0, 0, sampler, ema))
        step, student_updates = int(state["step"]), int(state["student_updates"])
        for name, avg in ema.shadow.items():
            avg.copy_(state[f"ema.{name}"])
        sampler.load_state_dict({"epoch": int(state["epoch"]), "position": int(state["position"])})
    metrics = MetricsLogger(out, enabled=rank == 0)
    bar = tqdm(
        total=cfg.run.max_steps, initial=step, disable=not (cfg.run.progress and rank == 0), desc=cfg.kind
    )
    records = []
    try:
        while step < cfg.run.max_steps:
            t0 = time.perf_counter()
            x0, ctx = data.batch(sampler.next_indices())
            x0, ctx = x0.to(device, torch.float32), ctx.to(device, torch.float32)
            gen = _step_generator(cfg.run.seed, step, dp_rank)  # same noise across a sequence-parallel group
            factor = _lr_factor(step, cfg.optim.warmup_steps)
            for name, opt in opts.items():
                for group in opt.param_groups:
                    group["lr"] = base_lr[name] * factor
            losses, updated = _one_step(cfg, nets, x0, ctx, uncond, gen, step, student_updates)
            opts[updated].step()
            opts[updated].zero_grad(set_to_none=True)
            if updated == "student":
                ema.update(nets["student"][0], student_updates)
                student_updates += 1
            step += 1
            elapsed = time.perf_counter() - t0
            pt, ph, pw = student_config.patch_size
            tokens = x0.shape[0] * x0[0, 0].numel() // (pt * ph * pw) * dp_size
            record = {"step": step, **{k: _mean_over_ranks(v) for k, v in losses.items()}}
            record.update(lr=base_lr[updated] * factor, tokens_per_s=tokens / elapsed, step_s=elapsed)
            records.append(record)
            if step % cfg.run.log_every == 0:
                metrics.log(record)
            bar.update(1)
            bar.set_postfix({k: f"{v:.4g}" for k, v in record.items() if k.startswith("loss")})
            if step % cfg.run.checkpoint_every == 0 or step == cfg.run.max_steps:
                save_checkpoint(
                    out / "checkpoints", step, trained, _trainer_state(step, student_updates, sampler, ema)
                )
            if on_step is not None:
                on_step(step, record)
    finally:
        bar.close()
        metrics.close()
    _export(nets["student"][0], ema, out / "final.safetensors", rank)
    return records


def _trainer_state(
    step: int, student_updates: int, sampler: ResumableSampler, ema: PowerEMA
) -> dict[str, torch.Tensor]:
    s = sampler.state_dict()
    return {
        **{f"ema.{name}": avg for name, avg in ema.shadow.items()},
        "step": torch.tensor(step),
        "student_updates": torch.tensor(student_updates),
        "epoch": torch.tensor(s["epoch"]),
        "position": torch.tensor(s["position"]),
    }


def _one_step(cfg, nets, x0, ctx, uncond, gen, step, student_updates) -> tuple[dict[str, torch.Tensor], str]:
    """Forward + backward of one step; returns (losses to log, name of the network to update)."""
    student = nets["student"][0]
    if cfg.kind == "flow":
        out = flow_matching_loss(
            student, x0, ctx, generator=gen, p_mean=cfg.flow.p_mean, p_std=cfg.flow.p_std
        )
        out.loss.backward()
        return {"loss": out.loss}, "student"
    if cfg.kind == "sla":
        out = sla_distill_loss(
            student, nets["teacher"][0], x0, ctx, generator=gen, p_mean=cfg.sla.p_mean, p_std=cfg.sla.p_std
        )
        out.loss.backward()
        return {"loss": out.loss}, "student"
    rc, teacher, fake = cfg.rcm.loss, nets["teacher"][0], nets["fake_score"][0]
    unc = (uncond.float() if uncond is not None else torch.zeros_like(ctx[0])).expand_as(ctx)
    warm = step < rc.warmup_iters
    n_sim = 1 + student_updates % 4
    if warm or step % cfg.rcm.critic_freq == 0:
        scm = scm_loss(student, teacher, x0, ctx, unc, iteration=step, cfg=rc, generator=gen)
        (rc.scm_weight * scm.loss).backward()
        losses = {"loss_scm": scm.loss}
        if not warm:
            dmd = dmd_loss(
                student, teacher, fake, tuple(x0.shape), ctx, unc, n_sim=n_sim, cfg=rc, generator=gen
            )
            (rc.dmd_weight * dmd.loss).backward()
            losses["loss_dmd"] = dmd.loss
        return losses, "student"
    crit = fake_score_loss(student, fake, tuple(x0.shape), ctx, n_sim=n_sim, cfg=rc, generator=gen)
    crit.loss.backward()
    # The student rollout ran without grad; only the fake score has gradients to apply.
    return {"loss_fake": crit.loss}, "fake_score"


def _export(model: nn.Module, ema: PowerEMA, path: Path, rank: int) -> None:
    """Save the student's EMA weights (cast to the model's dtype) on rank 0: safetensors, config in metadata.

    Buffers and frozen tensors come from the model itself; sharded EMA tensors are gathered first.

    The JVP attention rCM swaps in owns no weights, so the names are the plain WanDiT ones. Under sequence
    parallelism an SLA backend's weights sit under ``attn_op.inner.`` (the UlyssesAttention wrapper); they
    are written under the plain ``attn_op.`` names, so the file loads like any TurboWan checkpoint.
    """
    from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

    from ..models.checkpoint_io import save_safetensors

    full = get_model_state_dict(model, options=StateDictOptions(full_state_dict=True, cpu_offload=True))
    for name, avg in ema.shadow.items():
        whole = avg.full_tensor() if hasattr(avg, "full_tensor") else avg  # collective for DTensors
        if rank == 0:
            full[name] = whole.to(full[name].dtype).cpu()
    if rank == 0:
        full = {name.replace(".attn_op.inner.", ".attn_op."): t for name, t in full.items()}
        meta = {"config": json.dumps(model.config.to_dict()), "format": "turbodiffusion-wan-dit"}
        save_safetensors(full, path, meta)
        logger.info("saved trained student to %s", path)


__all__ = ["build_dit", "train"]
