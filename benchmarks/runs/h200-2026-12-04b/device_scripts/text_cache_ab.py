"""A/B of the TextContextCache on the Turbo FP8 path: CUDA-graph forwards that recompute the text's
cross-attention k and v (as before) against ones that read a filled cache, alternated in one process, and
the 4-step loop both ways (4 recomputing replays against the first-step graph + 3 cached replays).

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/text_cache_ab.py OUT.json
"""

from __future__ import annotations

import json
import statistics
import sys

import torch
from e2e_stages import GraphForward, build_dit, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan import TextContextCache
from turbodiffusion.models.wan.config import dit_preset

SHAPES = [("wan2.1-t2v-1.3b", "480p", 5, 3), ("wan2.1-t2v-14b", "720p", 2, 2)]


def measure(preset: str, resolution: str, reps: int, rounds: int, device: torch.device) -> dict:
    shape = dit_shape(dit_preset(preset), resolution, 81, None)
    cfg = shape.cfg
    model = build_dit(cfg, AttentionConfig(backend="sagesla", sla_topk=0.1), device, "fp8row-fast")
    model.enable_fused_ops(True)
    g = torch.Generator(device).manual_seed(3)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.tensor([900.0], device=device).to(torch.bfloat16)
    ctx = (torch.randn(1, cfg.text_len, cfg.text_dim, generator=g, device=device) * 0.1).to(torch.bfloat16)
    with torch.no_grad():
        model(x, t, ctx)  # autotune and compile outside the graphs
    torch.cuda.synchronize()
    plain = GraphForward(model, x, t, ctx, None)
    cache = TextContextCache(ctx)
    first = GraphForward(model, x, t, TextContextCache(ctx), None, fill_text_cache=True, pool=plain.pool)
    cached = GraphForward(model, x, t, cache, None, pool=plain.pool)
    a = plain(x, t).float().clone()
    b = first(x, t).float().clone()
    c = cached(x, t).float().clone()
    same = {"first_vs_plain": bool(torch.equal(a, b)), "cached_vs_plain": bool(torch.equal(a, c))}

    def loop_plain() -> None:
        for _ in range(4):
            plain(x, t)

    def loop_cached() -> None:
        first(x, t)
        for _ in range(3):
            cached(x, t)

    fwd = {"plain": [], "cached": []}
    loop = {"plain": [], "cached": []}
    for _ in range(rounds):
        fwd["plain"] += time_calls(lambda: plain(x, t), reps, device)
        fwd["cached"] += time_calls(lambda: cached(x, t), reps, device)
        loop["plain"] += time_calls(loop_plain, 1, device)
        loop["cached"] += time_calls(loop_cached, 1, device)
    row = {
        "preset": preset, "resolution": resolution, "tokens": shape.tokens, **same,
        "cache_mib": cache.nbytes() / 2**20,
        "fwd_ms": {k: statistics.median(v) for k, v in fwd.items()}, "fwd_all": fwd,
        "loop_ms": {k: statistics.median(v) for k, v in loop.items()}, "loop_all": loop,
    }  # fmt: skip
    row["fwd_speedup"] = row["fwd_ms"]["plain"] / row["fwd_ms"]["cached"]
    row["loop_speedup"] = row["loop_ms"]["plain"] / row["loop_ms"]["cached"]
    print(json.dumps({k: v for k, v in row.items() if not k.endswith("_all")}), flush=True)
    return row


def main(out_path: str) -> None:
    device = torch.device("cuda")
    results = []
    for preset, resolution, reps, rounds in SHAPES:
        results.append(measure(preset, resolution, reps, rounds, device))
        torch.cuda.empty_cache()
    env = {"torch": torch.__version__, "gpu": torch.cuda.get_device_name()}
    with open(out_path, "w") as f:
        json.dump({"env": env, "rows": results}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
