"""Whole DiT forwards of one model under several arms (code paths switched by context managers), side by side.

The device scripts that A/B a kernel change on a GPU each built this by hand; this is the one copy. One random
model at a preset's real shape (FP8-fast linears, fused ops, SageSLA top-k 0.1 by default, as the pipeline's
Turbo path), a CUDA graph captured per arm inside its context (so the switch reaches the capture), the
graphs replayed in alternation for ``rounds`` rounds of ``reps`` calls. Import it from a device script:

    from forward_ab import time_forward_arms      # PYTHONPATH=.:benchmarks
    row = time_forward_arms("wan2.1-t2v-1.3b", "480p", {"old": old_ctx, "new": contextlib.nullcontext}, 6, 8)

``quick_dit`` (a tiny config) on the CPU runs each arm's forward eagerly instead of from a graph: the check of
this helper that CI can run (tests/benchmarks/test_forward_ab_quick.py).
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable

import torch
from e2e_stages import GraphForward, build_dit, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import WanDiTConfig, dit_preset

Arm = Callable[[], contextlib.AbstractContextManager]


def time_forward_arms(
    preset: str,
    resolution: str,
    arms: dict[str, Arm],
    rounds: int,
    reps: int,
    *,
    attention: AttentionConfig | None = None,
    quant: str | None = "fp8row-fast",
    quick_dit: WanDiTConfig | None = None,
    context_rows: int | None = None,
) -> dict:
    """Median ms a forward for each arm (CUDA graphs, replays alternated), each arm's range, its speed-up
    over the first arm, and each arm's output against the first's (rel L2). On CUDA; with ``quick_dit`` on
    the CPU, eager forwards of that config. ``context_rows``: the context's rows (a trimmed prompt's, to
    which the DiT adds the padding's stand-ins as the pipeline's forwards do), else all text_len."""
    device = torch.device("cpu" if quick_dit is not None else "cuda")
    shape = dit_shape(dit_preset(preset), resolution, 81, quick_dit)
    cfg = shape.cfg
    g = torch.Generator(device).manual_seed(5)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.full((1,), 988.0, device=device, dtype=torch.bfloat16)
    rows = cfg.text_len if context_rows is None else context_rows
    context = torch.randn(1, rows, cfg.text_dim, generator=g, device=device).to(torch.bfloat16)
    model = build_dit(cfg, attention or AttentionConfig(backend="sagesla", sla_topk=0.1), device, quant)
    model.enable_fused_ops(True)
    graphs, outs = {}, {}
    for name, arm in arms.items():
        with arm():
            with torch.no_grad():
                model(x, t, context, None)  # compile and autotune outside the capture
            if device.type == "cuda":
                graphs[name] = GraphForward(model, x, t, context, None)
            else:  # the eager forward, in the arm's context at every call
                graphs[name] = _eager(model, context, arm)
            outs[name] = graphs[name](x, t).float().clone()
    ms = time_alternated({name: lambda g=g: g(x, t) for name, g in graphs.items()}, rounds, reps, device)
    med = {name: median(v) for name, v in ms.items()}
    first = next(iter(arms))
    row = dict(
        preset=preset, resolution=resolution, tokens=shape.tokens, context_rows=rows, rounds=rounds, reps=reps,
        ms=med,
        ranges={name: (min(v), max(v)) for name, v in ms.items()},
        speedup={name: med[first] / v for name, v in med.items()},
        rel_l2={name: ((o - outs[first]).norm() / outs[first].norm()).item() for name, o in outs.items()},
    )  # fmt: skip
    graphs.clear()
    del model
    if device.type == "cuda":
        torch.cuda.empty_cache()
    return row


def time_alternated(
    fns: dict[str, Callable[[], object]], rounds: int, reps: int, device: torch.device, per_call: int = 1
) -> dict[str, list[float]]:
    """Milliseconds of each arm's calls, the arms called in alternation (``rounds`` rounds of ``reps`` calls
    an arm) so that clock and power drift hit every arm alike; each time divided by ``per_call``, the calls
    one call of ``fns`` stands for (a CUDA graph's captured calls)."""
    ms: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(rounds):
        for name, fn in fns.items():
            ms[name] += [t / per_call for t in time_calls(fn, reps, device)]
    return ms


def median(times: list[float]) -> float:
    """The middle time (the upper middle of an even count)."""
    return sorted(times)[len(times) // 2]


def _eager(model, context: torch.Tensor, arm: Arm) -> Callable[[torch.Tensor, torch.Tensor], torch.Tensor]:
    def forward(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
        with arm(), torch.no_grad():
            return model(x, t, context, None)

    return forward
