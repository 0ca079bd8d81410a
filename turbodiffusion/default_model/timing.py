"""Seconds per video of the default model's four configurations on one device, from trained weights.

Text encoding is left out on purpose: the training machine may not hold the MiniLM weights, and MiniLM
encodes a 16-token prompt in milliseconds (the CPU evaluation, ``python -m turbodiffusion.eval.synthetic``,
times whole pipelines including it). Each configuration is timed as sampling + VAE decode of one video at
the default size, median of ``repeats`` runs after one warm-up run.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable

import torch

from ..pipelines.denoise import synchronize
from .check import build_dit, sample_videos

CONFIGS = ("teacher", "student", "student+sla", "student+sla+w8a8")


def median_seconds(fn: Callable[[], object], repeats: int, device: torch.device) -> float:
    """Median wall seconds of ``repeats`` calls after one warm-up call (autotuning, allocator growth)."""
    fn()
    times = []
    for _ in range(repeats):
        synchronize(device)
        start = time.perf_counter()
        fn()
        synchronize(device)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def time_configs(
    teacher_state,
    student_state,
    vae,
    dit_config,
    context,
    uncond,
    latent_shape,
    *,
    teacher_steps: int,
    guidance: float,
    shift: float,
    device: torch.device,
    dtype: torch.dtype = torch.bfloat16,
    repeats: int = 3,
    configs: tuple[str, ...] = CONFIGS,
    sla_topk: float = 0.1,
) -> dict[str, float]:
    """{config: median seconds per video}. context, uncond: [1, Lt, text_dim]; latent_shape [1, z, F, h, w];
    state dicts as saved (see check.build_dit)."""
    vae = vae.to(device=device, dtype=dtype).eval()
    out = {}
    for name in configs:
        dit = build_dit(name, teacher_state, student_state, dit_config, device, dtype, sla_topk)

        def run(name=name, dit=dit):
            return sample_videos(
                name,
                dit,
                vae,
                context,
                uncond,
                latent_shape,
                teacher_steps=teacher_steps,
                guidance=guidance,
                shift=shift,
            )

        out[name] = round(median_seconds(run, repeats, device), 4)
        del dit
    return out
