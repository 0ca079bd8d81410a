"""Device experiment (2026-12-03f, call 4): the whole DiT forward (CUDA graph, FP8-fast linears, fused ops,
SageSLA top-k 0.1) with the Gluon Sage kernel as adopted (bias folded into the exponent, lut entries for the
TMA a tile early) against the kernel at 4b9cfcf and against the per-thread row-sum variant, in one process on
one GPU: one model, a graph per arm, the graphs replayed in alternation so clock and power drift hit all.

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03f/device_scripts \
        python benchmarks/runs/h200-2026-12-03f/device_scripts/forward_ab.py OUT.json
"""

import functools
import json
import sys

import sage_variants as sv
import torch
from e2e_stages import build_dit, capture_graph, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sage import kernel_wgmma
from turbodiffusion.models.wan.config import dit_preset

ARMS = {
    "adopted": kernel_wgmma.sage_sparse_wgmma,
    "at_4b9cfcf": functools.partial(sv.sage_sparse_wgmma, fold=False, tree=False, prefetch=False, lazy=False),
    "lazy_sums": functools.partial(sv.sage_sparse_wgmma, fold=True, tree=False, prefetch=True, lazy=True),
}


def run(preset, resolution, rounds, reps):
    device = torch.device("cuda")
    shape = dit_shape(dit_preset(preset), resolution, 81, None)
    cfg = shape.cfg
    g = torch.Generator(device).manual_seed(5)
    x = torch.randn(shape.latent, generator=g, device=device).to(torch.bfloat16)
    t = torch.full((1,), 988.0, device=device, dtype=torch.bfloat16)
    context = torch.randn(1, cfg.text_len, cfg.text_dim, generator=g, device=device).to(torch.bfloat16)
    model = build_dit(cfg, AttentionConfig(backend="sagesla", sla_topk=0.1), device, "fp8row-fast")
    model.enable_fused_ops(True)
    graphs, outs = {}, {}
    for arm, fn in ARMS.items():
        kernel_wgmma.sage_sparse_wgmma = fn  # sage_forward_triton imports it at each call
        with torch.no_grad():
            model(x, t, context, None)  # compile and autotune outside the capture
        graphs[arm] = capture_graph(model, x, t, context, None)
        outs[arm] = graphs[arm](x, t).float().clone()
    kernel_wgmma.sage_sparse_wgmma = ARMS["adopted"]
    ms = {arm: [] for arm in ARMS}
    for _ in range(rounds):
        for arm in ARMS:
            ms[arm] += time_calls(lambda arm=arm: graphs[arm](x, t), reps, device)
    med = {arm: sorted(v)[len(v) // 2] for arm, v in ms.items()}
    ref = outs["at_4b9cfcf"]
    row = dict(
        preset=preset, resolution=resolution, tokens=shape.tokens, rounds=rounds, reps=reps,
        ms=med, speedup_vs_4b9cfcf={arm: med["at_4b9cfcf"] / v for arm, v in med.items()},
        rel_l2_vs_4b9cfcf={arm: ((o - ref).norm() / ref.norm()).item() for arm, o in outs.items()},
        all_ms=ms,
    )  # fmt: skip
    print({k: v for k, v in row.items() if k != "all_ms"}, flush=True)
    graphs.clear()
    del model
    torch.cuda.empty_cache()
    return row


if __name__ == "__main__":
    rows = []
    for args in (("wan2.1-t2v-1.3b", "480p", 6, 8), ("wan2.1-t2v-14b", "720p", 2, 3)):
        rows.append(run(*args))
        with open(sys.argv[1], "w") as f:  # after each shape: a cut-off run keeps the first
            json.dump(rows, f, indent=1)
