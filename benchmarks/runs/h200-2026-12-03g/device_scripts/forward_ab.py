"""Device experiment (2026-12-03g): the whole DiT forward (CUDA graph, FP8-fast linears, fused ops, SageSLA
top-k 0.1) with this tree's kernels against arms that put earlier kernels back, in one process on one GPU:
one model, a graph per arm, the graphs replayed in alternation so clock and power drift hit all.

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03g/device_scripts \
        python benchmarks/runs/h200-2026-12-03g/device_scripts/forward_ab.py OUT.json [ARM ...]

Arms: "tree" (always), "rope_at_8fcf703" (the RoPE norm with whole padded rows), "norm_at_8fcf703" (the fused
norm + modulation kernels with one padded tile a row), "at_8fcf703" (both), "row_quant_tiles" (the row quantiser
with whole rows as two tiles, not adopted). Call 3 ran "tree" with the two-tile quantiser in the tree against
"row_quant_at_8fcf703" (the quantiser as at 8fcf703, today's tree's): ``OUT row_quant_tiles`` now measures the
same pair with the arms' names swapped.
"""

import json
import sys

import norm_modulate_at_8fcf703
import rope_at_8fcf703
import row_quant_tiles
import torch
from e2e_stages import build_dit, capture_graph, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.models.wan.config import dit_preset
from turbodiffusion.ops.norm_modulate import kernel as norm_kernel
from turbodiffusion.ops.rms_norm_rope import kernel as rope_kernel
from turbodiffusion.quant.row_quant import kernel as row_quant_kernel

PATCHES = {  # arm: [(module, attribute, replacement)]
    "tree": [],
    "rope_at_8fcf703": [(rope_kernel, "_rms_norm_rope_op", rope_at_8fcf703._rms_norm_rope_op)],
    "norm_at_8fcf703": [(norm_kernel, "_norm_modulate_op", norm_modulate_at_8fcf703._norm_modulate_op)],
    "row_quant_tiles": [(row_quant_kernel, "quantize_rows_triton", row_quant_tiles.quantize_rows_triton)],
    "at_8fcf703": [
        (rope_kernel, "_rms_norm_rope_op", rope_at_8fcf703._rms_norm_rope_op),
        (norm_kernel, "_norm_modulate_op", norm_modulate_at_8fcf703._norm_modulate_op),
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
    arms = ["tree"] + sys.argv[2:]
    rows = []
    for args in (("wan2.1-t2v-1.3b", "480p", 6, 8), ("wan2.1-t2v-14b", "720p", 2, 3)):
        rows.append(run(*args, arms))
        with open(sys.argv[1], "w") as f:  # after each shape: a cut-off run keeps the first
            json.dump(rows, f, indent=1)
