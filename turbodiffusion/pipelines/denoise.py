"""The sampling stage: a sampler over one DiT, or over Wan2.2's two experts with the switch.

The experts live in a ``Residency`` group, so switching parks the high-noise expert before the low-noise
one is moved to the device: only one is ever resident (models.md §4).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from torch import Tensor

from ..models.wan import TextContextCache, WanDiT
from ..sampling.rcm import rcm_sample
from ..sampling.unipc import flow_euler_sample, flow_unipc_sample, guided
from .forward_graphs import ForwardGraphs
from .residency import Residency

Sampler = Literal["rcm", "unipc", "euler"]
SAMPLERS: tuple[str, ...] = ("rcm", "unipc", "euler")


@dataclass(frozen=True)
class SamplingPlan:
    """What the sampling stage runs (validated by the pipeline before any work)."""

    sampler: Sampler
    steps: int
    seed: int
    sigma_max: float  # rcm
    ode: bool  # rcm
    shift: float  # unipc / euler
    guidance: float  # unipc / euler: classifier-free guidance scale


def synchronize(device: torch.device) -> None:
    """Wait for queued device work, so wall-clock stage times are true (a no-op on the CPU)."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)


class StepClock:
    """Seconds per sampling step without synchronising inside the loop.

    On CUDA each ``mark()`` records an event on the current stream (the host goes on issuing the next step
    while the GPU finishes this one) and ``durations()`` waits once, for the last; elsewhere marks read the
    wall clock. The first duration runs from the clock's creation.
    """

    def __init__(self, device: torch.device) -> None:
        self._cuda = device.type == "cuda"
        self._marks: list = [self._now()]

    def _now(self):
        if not self._cuda:
            return time.perf_counter()
        event = torch.cuda.Event(enable_timing=True)
        event.record()
        return event

    def mark(self) -> None:
        self._marks.append(self._now())

    def durations(self) -> tuple[float, ...]:
        marks = self._marks
        if not self._cuda:
            return tuple(b - a for a, b in zip(marks, marks[1:]))
        marks[-1].synchronize()
        return tuple(a.elapsed_time(b) / 1e3 for a, b in zip(marks, marks[1:]))


def sample_latent(
    residency: Residency,
    experts: tuple[str, ...],
    boundary: float | None,
    shape: tuple[int, ...],
    context: Tensor,
    y: Tensor | None,
    plan: SamplingPlan,
    *,
    input_dtype: torch.dtype,
    negative_context: Tensor | None = None,
    progress: bool = False,
    graphs: ForwardGraphs | None = None,
) -> tuple[Tensor, tuple[float, ...]]:
    """Run the sampler and return (latent [B, 16, F, h, w] float32, seconds per step).

    experts: residency names, high-noise expert first when there are two. context: [B, Lt, text_dim] on
    the device; negative_context: the unconditional context for the baseline samplers' guidance. y: i2v
    conditioning [B, 20, F, h, w] or None. Noise comes from a generator on the residency's device seeded
    with ``plan.seed``, so a seed reproduces a run on the same device. Step times come from CUDA events
    (``StepClock``): the loop itself never waits for the GPU, so a progress bar counts steps issued, which
    may run ahead of the GPU's (as far as CUDA's launch queue lets the host go). A WanDiT gets each context as a
    ``TextContextCache``, so its text embedding and cross-attention k and v are computed once per expert.
    ``graphs``: run a WanDiT's forwards through these CUDA graphs (the caller's, kept across runs) instead.
    """
    device = residency.device
    active = {"name": experts[0], "net": residency.activate(experts[0])}

    # Per context slot (0 the prompt, 1 the negative prompt): its text embedding and cross-attention k and v,
    # made by the active expert's first forward and reused by its later steps (an expert switch drops them
    # with the parked expert); with graphs, its run through them instead (the graphs keep their own cache).
    text_caches: dict[int, TextContextCache] = {}
    graph_runs: dict[int, Callable[[Tensor, Tensor], Tensor]] = {}

    def switch() -> None:
        text_caches.clear()
        graph_runs.clear()
        active["net"] = residency.activate(experts[1])  # parks the high-noise expert first
        active["name"] = experts[1]

    def net(ctx: Tensor, slot: int) -> Callable[[Tensor, Tensor], Tensor]:
        def velocity(x: Tensor, tau: Tensor) -> Tensor:
            model = active["net"]
            if not isinstance(model, WanDiT):
                return model(x, tau, ctx, y)
            if graphs is not None:
                run = graph_runs.get(slot)
                if run is None:
                    run = graph_runs[slot] = graphs.velocity(model, ctx, y, slot=slot)
                return run(x, tau)
            cache = text_caches.get(slot)
            if cache is None:
                cache = text_caches[slot] = TextContextCache(ctx)
            return model(x, tau, cache, y)

        return velocity

    clock = StepClock(device)

    def on_step(i: int, s: float) -> None:
        clock.mark()

    switch_args: dict = {"switch_boundary": boundary, "on_switch": switch if boundary is not None else None}
    generator = torch.Generator(device).manual_seed(plan.seed)
    try:
        if plan.sampler == "rcm":
            latent = rcm_sample(
                net(context, 0),
                shape,
                generator=generator,
                steps=plan.steps,
                sigma_max=plan.sigma_max,
                ode=plan.ode,
                device=device,
                input_dtype=input_dtype,
                on_step=on_step,
                progress=progress,
                **switch_args,
            )
        else:
            assert negative_context is not None
            noise = torch.randn(shape, generator=generator, dtype=torch.float32, device=device)
            velocity = guided(net(context, 0), net(negative_context, 1), plan.guidance)
            run = flow_unipc_sample if plan.sampler == "unipc" else flow_euler_sample
            latent = run(
                velocity,
                noise,
                steps=plan.steps,
                shift=plan.shift,
                input_dtype=input_dtype,
                on_step=on_step,
                progress=progress,
                **switch_args,
            )
    finally:
        residency.release(active["name"])
    return latent, clock.durations()
