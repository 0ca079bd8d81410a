"""Device experiment (2026-12-03h): the whole DiT forward (CUDA graph, FP8-fast linears, fused ops, SageSLA
top-k 0.1) with this tree's kernels against arms that put earlier ones back, in one process on one GPU: one
model, a graph per arm, the graphs replayed in alternation so clock and power drift hit all.

Arms: "tree"; "sage_at_657d349" (the sm_90 Sage kernel at 657d349, ``sage_wgmma_at_657d349.py``, fed
unpermuted V^T); "kv_summary_triton" (the K/V summary's first pass in Triton, not ``kv_summary_wgmma``).

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts \\
        python benchmarks/runs/h200-2026-12-03h/device_scripts/forward_ab.py OUT.json
"""

import functools
import json
import sys

import sage_wgmma_at_657d349
import torch
from e2e_stages import build_dit, capture_graph, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sage import kernel as sage_kernel
from turbodiffusion.attention.sage import kernel_wgmma
from turbodiffusion.attention.sagesla import kernel as sagesla_kernel
from turbodiffusion.attention.sla.kernel_fwd import summarize_kv
from turbodiffusion.models.wan.config import dit_preset

_quantize_v = sage_kernel.quantize_v_fp8_triton


def _quantize_v_unpermuted(v, amax, v_range, *, permute_keys=False):
    return _quantize_v(v, amax, v_range)


PATCHES = {  # arm: [(module, attribute, replacement)]
    "tree": [],
    "sage_at_657d349": [
        (kernel_wgmma, "sage_sparse_wgmma", sage_wgmma_at_657d349.sage_sparse_wgmma),
        (sage_kernel, "quantize_v_fp8_triton", _quantize_v_unpermuted),
    ],
    "kv_summary_triton": [
        (sagesla_kernel, "summarize_kv", functools.partial(summarize_kv, kernel="triton")),
        (sage_kernel, "summarize_kv", functools.partial(summarize_kv, kernel="triton")),
    ],
}


def patched(arm):
    saved = [(mod, name, getattr(mod, name)) for mod, name, _ in PATCHES[arm]]
    for mod, name, new in PATCHES[arm]:
        setattr(mod, name, new)
    return saved


def restore(saved):
    for mod, name, old in saved:
        setattr(mod, name, old)


def run(preset, resolution, rounds, reps, arms):
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
    for arm in arms:
        saved = patched(arm)
        with torch.no_grad():
            model(x, t, context, None)  # compile and autotune outside the capture
        graphs[arm] = capture_graph(model, x, t, context, None)
        outs[arm] = graphs[arm](x, t).float().clone()
        restore(saved)
    ms = {arm: [] for arm in arms}
    for _ in range(rounds):
        for arm in arms:
            ms[arm] += time_calls(lambda arm=arm: graphs[arm](x, t), reps, device)
    med = {arm: sorted(v)[len(v) // 2] for arm, v in ms.items()}
    ref = outs["tree"]
    row = dict(
        preset=preset, resolution=resolution, tokens=shape.tokens, rounds=rounds, reps=reps,
        ms=med, tree_speedup={arm: v / med["tree"] for arm, v in med.items()},
        rel_l2_vs_tree={arm: ((o - ref).norm() / ref.norm()).item() for arm, o in outs.items()},
        all_ms=ms,
    )  # fmt: skip
    print({k: v for k, v in row.items() if k != "all_ms"}, flush=True)
    graphs.clear()
    del model
    torch.cuda.empty_cache()
    return row


if __name__ == "__main__":
    arms = ["tree", "sage_at_657d349", "kv_summary_triton"]
    rows = []
    for args in (("wan2.1-t2v-1.3b", "480p", 6, 8), ("wan2.1-t2v-14b", "720p", 2, 3)):
        rows.append(run(*args, arms))
        with open(sys.argv[1], "w") as f:  # after each shape: a cut-off run keeps the first
            json.dump(rows, f, indent=1)
