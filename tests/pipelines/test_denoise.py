"""sample_latent's step clock: one duration per step, and on CUDA no wait for the GPU inside the step loop."""

from __future__ import annotations

import time

import pytest
import torch

from turbodiffusion.models.wan import WanDiT, WanDiTConfig
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.pipelines.denoise import SamplingPlan, StepClock, sample_latent
from turbodiffusion.pipelines.residency import Residency
from turbodiffusion.testing.host_syncs import count_host_syncs, is_sync_warning

CONFIG = WanDiTConfig(dim=64, ffn_dim=128, num_heads=2, num_layers=2, text_dim=32, text_len=8, freq_dim=32)
PLAN = SamplingPlan("rcm", 4, 0, 80.0, False, 5.0, 5.0)
SHAPE = (1, 16, 2, 6, 8)


def make_residency(device: str) -> Residency:
    with torch.device("meta"):
        model = WanDiT(CONFIG)
    model.load_state_dict(random_state_dict(model, torch.Generator().manual_seed(0)), assign=True)
    residency = Residency(device)
    residency.add("dit", model.eval(), group="dit")
    return residency


def test_cpu_clock_reads_the_wall_clock_between_marks():
    clock = StepClock(torch.device("cpu"))
    for pause in (0.02, 0.0, 0.01):
        time.sleep(pause)
        clock.mark()
    got = clock.durations()
    assert len(got) == 3 and got[0] >= 0.02 and got[2] >= 0.01 and all(d >= 0 for d in got)


def test_sample_latent_times_every_step():
    residency = make_residency("cpu")
    ctx = torch.randn(1, 5, CONFIG.text_dim)
    with torch.inference_mode():
        latent, times = sample_latent(
            residency, ("dit",), None, SHAPE, ctx, None, PLAN, input_dtype=torch.float32
        )
    assert latent.shape == SHAPE and len(times) == PLAN.steps and all(t > 0 for t in times)


@pytest.mark.gpu
def test_cuda_step_loop_never_waits_for_the_gpu():
    """torch's sync debug mode reports every synchronising call: the loop makes none (the per-step
    torch.cuda.synchronize it had made four), and the step times are the GPU's, from events."""
    residency = make_residency("cuda")
    ctx = torch.randn(1, 5, CONFIG.text_dim, device="cuda")
    with torch.inference_mode():
        sample_latent(residency, ("dit",), None, SHAPE, ctx, None, PLAN, input_dtype=torch.float32)  # warm-up
        torch.cuda.synchronize()
        with count_host_syncs(torch.device("cuda")) as probe:
            torch.ones(1, device="cuda").item()
        with count_host_syncs(torch.device("cuda")) as loop:
            latent, times = sample_latent(
                residency, ("dit",), None, SHAPE, ctx, None, PLAN, input_dtype=torch.float32
            )
    assert probe.count == 1  # the counter sees a known sync, so its zero below means something
    assert loop.count == 0 and len(times) == PLAN.steps and all(t > 0 for t in times)
    assert torch.isfinite(latent).all()


def test_sync_warnings_are_told_from_the_modes_notice():
    assert is_sync_warning("called a synchronizing CUDA operation")
    assert not is_sync_warning(
        "Synchronization debug mode is a prototype feature and does not yet detect all synchronizing operations"
    )
    assert not is_sync_warning("some other warning")
