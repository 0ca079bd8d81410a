"""Training throughput of the built-in default model's stages, to size their time budgets.

Claim measured: steps/s and samples/s of one optimizer step of
  * the VAE on single frames (its image phase) at two batch sizes and on whole-length clips (its video phase),
    the clips with the official one-latent-frame chunks and with all frames after the first in one chunk,
  * the flow-matching teacher at three batch sizes,
  * the rCM sCM step with the student's attention tangent by the dense reference and by the Triton kernel,
at the default model's sizes (TrainSettings), random weights (rates do not depend on them). Each group
prints its rows' ratio to the group's first row, measured in the same run.

    PYTHONPATH=. python benchmarks/default_model_training.py --bank work_default --json out.json
    PYTHONPATH=. python benchmarks/default_model_training.py --quick     # CPU smoke run at a tiny size

--bank is a work folder holding bank.safetensors (``python -m turbodiffusion.default_model.train bank``);
without one, the benchmark makes a random stand-in bank of the same shapes (text values do not change a
step's cost). Before timing, the two tangent implementations are checked against each other on the timed
inputs, so a fast wrong answer fails the run.
"""

from __future__ import annotations

import argparse
import copy
import dataclasses
import os
import sys
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path

import torch
from common import environment, print_table, write_json

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.default_model import train
from turbodiffusion.models.wan.config import WanDiTConfig
from turbodiffusion.models.wan.vae import WanVAE, WanVAEConfig
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.training.flow import flow_matching_loss
from turbodiffusion.training.rcm import RCMLossConfig, enable_jvp_attention, scm_loss


def stand_in_bank(settings: train.TrainSettings, device: torch.device, keys: int = 64) -> train.CaptionBank:
    """A bank of random token states over the first ``keys`` training keys (cost-equivalent to the real one)."""
    from turbodiffusion.world.scenes import training_combinations

    combos = training_combinations()[:keys]
    key_list = [(*c, None) for c in combos]
    g = torch.Generator().manual_seed(0)
    lt, dim = settings.dit.text_len, settings.dit.text_dim
    return train.CaptionBank(
        torch.randn(len(key_list), lt, dim, generator=g).to(device),
        torch.zeros(lt, dim, device=device),
        torch.arange(len(key_list)),
        key_list,
        [" ".join(k[:3]) for k in key_list],
        torch.randn(2, lt, dim, generator=g).to(device),
        key_list[:2],
    )


def rate(step: Callable[[], None], reps: int, warmup: int, device: torch.device) -> float:
    """Steps per second of ``step`` over ``reps`` calls after ``warmup`` calls."""
    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    for _ in range(reps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return reps / (time.perf_counter() - start)


def vae_step(vae, opt, settings, bank, frames: int, batch: int, chunk: int, gen, device) -> None:
    keys = [bank.keys[i] for i in train._random_keys(bank, batch, gen)]
    video = train.object_crop(train.render_keys(keys, frames, settings, gen, device), settings.vae_crop, gen)
    with train._autocast(device):
        loss, _ = train.vae_loss(
            vae, video, settings.vae_latent_weight, settings.vae_foreground_weight, chunk
        )
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def teacher_step(model, opt, settings, pool, bank, rows_of_key, batch: int, gen, dev_gen) -> None:
    x0, ctx = train.draw_batch(pool, bank, rows_of_key, batch, gen, dropout=settings.caption_dropout)
    with train._autocast(x0.device):
        loss = flow_matching_loss(model, x0, ctx, generator=dev_gen).loss
    opt.zero_grad(set_to_none=True)
    loss.backward()
    opt.step()


def scm_step(student, teacher, x0, ctx, unc, cfg, dev_gen) -> None:
    out = scm_loss(student, teacher, x0, ctx, unc, iteration=10, cfg=cfg, generator=dev_gen)
    student.zero_grad(set_to_none=True)
    out.loss.backward()


def vae_rows(settings, bank, device, reps, warmup) -> list[dict]:
    vae = WanVAE(train._identity_stats(settings.vae)).to(device).train()
    opt = torch.optim.AdamW(vae.parameters(), lr=1e-4)
    gen = torch.Generator().manual_seed(0)
    rows = []
    latents = 1 + (settings.vae_frames - 1) // settings.vae.temporal_factor
    for phase, frames, batch, chunk in (
        ("image", 1, settings.vae_image_batch, 1),
        ("image", 1, 4 * settings.vae_image_batch, 1),
        ("video", settings.vae_frames, settings.vae_batch, 1),
        ("video", settings.vae_frames, settings.vae_batch, latents - 1),  # all after the first at once
    ):
        step = partial(vae_step, vae, opt, settings, bank, frames, batch, chunk, gen, device)
        r = rate(step, reps, warmup, device)
        rows.append({"group": "vae", "row": f"{phase} frames={frames} batch={batch} chunk={chunk}", "steps/s": r,
                     "samples/s": r * batch, "frames/s": r * batch * frames})  # fmt: skip
    return rows


def teacher_rows(settings, bank, device, reps, warmup, batches) -> list[dict]:
    gen = torch.Generator().manual_seed(0)
    pool = train.LatentPool(
        torch.randn(64, *settings.latent_shape(1)[1:], device=device).to(torch.bfloat16),
        torch.randint(len(bank.keys), (64,), generator=gen),
    )
    rows_of_key = bank.rows_of_key()
    rows = []
    for batch in batches:
        model = train._dit(settings, AttentionConfig("sdpa"), device).train()
        opt = torch.optim.AdamW(model.parameters(), lr=1e-4)
        dev_gen = torch.Generator(device).manual_seed(0)

        step = partial(teacher_step, model, opt, settings, pool, bank, rows_of_key, batch, gen, dev_gen)
        r = rate(step, reps, warmup, device)
        rows.append({"group": "teacher", "row": f"batch={batch}", "steps/s": r, "samples/s": r * batch})
    return rows


def scm_rows(settings, device, reps, warmup) -> list[dict]:
    teacher = train._dit(settings, AttentionConfig("sdpa"), device).eval().requires_grad_(False)
    g = torch.Generator().manual_seed(0)
    x0 = torch.randn(settings.latent_shape(settings.rcm_batch), generator=g).to(device)
    ctx = torch.randn(settings.rcm_batch, settings.dit.text_len, settings.dit.text_dim, generator=g).to(
        device
    )
    unc = torch.zeros_like(ctx)
    cfg = RCMLossConfig(guidance=settings.guidance, warmup_iters=settings.rcm_warmup)
    students, targets = {}, {}
    for impl in ("reference", "triton"):
        student = copy.deepcopy(teacher).train().requires_grad_(True)
        enable_jvp_attention(student, impl)
        students[impl] = student
        out = scm_loss(student, teacher, x0, ctx, unc, iteration=10, cfg=cfg,
                       generator=torch.Generator(device).manual_seed(1))  # fmt: skip
        targets[impl] = out.target
    err = rel_l2(targets["triton"], targets["reference"])
    if not err < 1e-2:
        raise SystemExit(f"sCM targets of the two tangent implementations differ: rel L2 {err:.3g}")
    rows = []
    for impl, student in students.items():
        dev_gen = torch.Generator(device).manual_seed(2)

        step = partial(scm_step, student, teacher, x0, ctx, unc, cfg, dev_gen)
        r = rate(step, reps, warmup, device)
        rows.append({"group": "scm", "row": f"tangent={impl}", "steps/s": r, "samples/s": r * settings.rcm_batch,
                     "target_rel_l2": err})  # fmt: skip
    return rows


def with_ratios(rows: list[dict]) -> list[dict]:
    """Each row's samples/s relative to the first row of its group."""
    first: dict[str, float] = {}
    for row in rows:
        base = first.setdefault(row["group"], row["samples/s"])
        row["vs_first"] = row["samples/s"] / base
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--bank", type=Path, help="work folder with bank.safetensors (else a random stand-in)"
    )
    parser.add_argument("--reps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--quick", action="store_true", help="CPU smoke run at a tiny size, 1 rep")
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    settings = train.TrainSettings()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    batches = (settings.teacher_batch, 2 * settings.teacher_batch, 4 * settings.teacher_batch)
    if args.quick:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # the Triton tangent runs on the CPU interpreter
        device, args.reps, args.warmup, batches = torch.device("cpu"), 1, 1, (2, 4)
        settings = dataclasses.replace(
            settings,
            dit=WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=1, text_dim=384, text_len=16),
            vae=WanVAEConfig(dim=4, z_dim=16, dim_mult=(1, 1, 1, 1), num_res_blocks=1),
            frames=5, height=32, width=32, vae_frames=5, vae_crop=16, vae_batch=1, vae_image_batch=1,
            rcm_batch=1,
        )  # fmt: skip
    elif device.type != "cuda":
        raise SystemExit("the full run needs a CUDA GPU; use --quick on the CPU")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.benchmark = True
    bank = train.load_bank(args.bank, device) if args.bank else stand_in_bank(settings, device)
    rows = vae_rows(settings, bank, device, args.reps, args.warmup)
    rows += teacher_rows(settings, bank, device, args.reps, args.warmup, batches)
    rows += scm_rows(settings, device, args.reps, args.warmup)
    with_ratios(rows)
    print_table(rows, ["group", "row", "steps/s", "samples/s", "vs_first"])
    if args.json:
        write_json(args.json, {"environment": environment(), "quick": args.quick, "rows": rows})
    sys.stdout.flush()


if __name__ == "__main__":
    main()
