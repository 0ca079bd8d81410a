"""Where the host's time goes in one eager Turbo forward (1.3B-480p, SageSLA top-k 0.1, FP8 row-wise W8A8,
fused ops, a filled TextContextCache: what ``generate`` runs per step), against the GPU's time.

host_ms: the forward's Python and launches, timed without synchronising (the launch queue never fills when
the host is the slower side); total_ms: with the final synchronisation; graph_ms: the same forward replayed
from a CUDA graph (the GPU's own time). Then cProfile of one forward (tottime and cumtime tables) and the
GPU-idle gaps of one forward from torch.profiler.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/host_profile.py OUT_PREFIX
"""

from __future__ import annotations

import cProfile
import io
import json
import pstats
import statistics
import sys
import time

import torch
from e2e_stages import GraphForward, build_dit, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan import TextContextCache
from turbodiffusion.models.wan.config import dit_preset


def main(prefix: str) -> None:
    device = torch.device("cuda")
    shape = dit_shape(dit_preset("wan2.1-t2v-1.3b"), "480p", 81, None)
    cfg = shape.cfg
    model = build_dit(cfg, AttentionConfig(backend="sagesla", sla_topk=0.1), device, "fp8row")
    model.enable_fused_ops(True)
    g = torch.Generator(device).manual_seed(3)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.tensor([900.0], device=device).to(torch.bfloat16)
    ctx = (torch.randn(1, cfg.text_len, cfg.text_dim, generator=g, device=device) * 0.1).to(torch.bfloat16)
    cache = TextContextCache(ctx)
    result: dict = {}
    with torch.inference_mode():
        for _ in range(3):
            model(x, t, cache)
        torch.cuda.synchronize()
        host, total = [], []
        for _ in range(6):
            torch.cuda.synchronize()
            t0 = time.perf_counter()
            model(x, t, cache)
            host.append((time.perf_counter() - t0) * 1e3)
            torch.cuda.synchronize()
            total.append((time.perf_counter() - t0) * 1e3)
        result["host_ms"], result["total_ms"] = statistics.median(host), statistics.median(total)
        result["host_all"], result["total_all"] = host, total
        # cProfile: the Python functions (and the C calls they make) of one forward.
        torch.cuda.synchronize()
        prof = cProfile.Profile()
        prof.enable()
        model(x, t, cache)
        prof.disable()
        torch.cuda.synchronize()
        for key in ("tottime", "cumulative"):
            buf = io.StringIO()
            pstats.Stats(prof, stream=buf).sort_stats(key).print_stats(60)
            with open(f"{prefix}_cprofile_{key}.txt", "w") as f:
                f.write(buf.getvalue())
        # GPU gaps of one eager forward.
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as p:
            model(x, t, cache)
            torch.cuda.synchronize()
        kernels = sorted(
            (e for e in p.events() if e.device_type == torch.autograd.DeviceType.CUDA),
            key=lambda e: e.time_range.start,
        )
        busy = sum(e.time_range.elapsed_us() for e in kernels) / 1e3
        span = (kernels[-1].time_range.end - kernels[0].time_range.start) / 1e3
        gaps: dict[str, float] = {}
        for a, b in zip(kernels, kernels[1:]):
            gap = (b.time_range.start - a.time_range.end) / 1e3
            if gap > 0.005:
                gaps[b.name[:80]] = gaps.get(b.name[:80], 0.0) + gap
        result.update(kernels=len(kernels), busy_ms=busy, span_ms=span, idle_ms=span - busy,
                      idle_before=sorted(gaps.items(), key=lambda kv: -kv[1])[:25])  # fmt: skip
    graph = GraphForward(model, x, t, cache, None)
    result["graph_ms"] = statistics.median(time_calls(lambda: graph(x, t), 5, device))
    print(json.dumps({k: v for k, v in result.items() if not k.endswith("_all") and k != "idle_before"}))
    with open(f"{prefix}.json", "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
