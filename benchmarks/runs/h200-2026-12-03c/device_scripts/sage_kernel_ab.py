"""The whole DiT forward (CUDA graph, FP8-fast linears, fused ops, SageSLA top-k 0.1) with the Sage kernel
chosen by sage_forward_triton (the Gluon one on sm_90) against the same model forced to the Triton kernel,
in one process on one GPU, the two graphs replayed in alternation so clock and power drift hit both."""

import functools
import json
import sys

import torch
from e2e_stages import build_dit, capture_graph, dit_shape, time_calls

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sagesla import kernel as sagesla_kernel
from turbodiffusion.models.wan.config import dit_preset


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
    original = sagesla_kernel.sage_forward_triton
    graphs, outs = {}, {}
    for arm in ("auto", "triton"):
        sagesla_kernel.sage_forward_triton = functools.partial(original, kernel=arm)
        with torch.no_grad():
            model(x, t, context, None)  # autotune outside the capture
        graphs[arm] = capture_graph(model, x, t, context, None)
        outs[arm] = graphs[arm](x, t).float().clone()
    sagesla_kernel.sage_forward_triton = original
    ms = {"auto": [], "triton": []}
    for _ in range(rounds):
        for arm in ("auto", "triton"):
            ms[arm] += time_calls(lambda arm=arm: graphs[arm](x, t), reps, device)
    med = {arm: sorted(v)[len(v) // 2] for arm, v in ms.items()}
    row = dict(
        preset=preset,
        resolution=resolution,
        tokens=shape.tokens,
        rounds=rounds,
        reps=reps,
        auto_ms=med["auto"],
        triton_ms=med["triton"],
        speedup=med["triton"] / med["auto"],
        outputs_equal=bool(torch.equal(outs["auto"], outs["triton"])),
        all_ms=ms,
    )
    print({k: v for k, v in row.items() if k != "all_ms"}, flush=True)
    graphs.clear()
    torch.cuda.empty_cache()
    return row


if __name__ == "__main__":
    rows = [run("wan2.1-t2v-1.3b", "480p", 6, 8), run("wan2.1-t2v-14b", "720p", 3, 3)]
    with open(sys.argv[1], "w") as f:
        json.dump(rows, f, indent=1)
