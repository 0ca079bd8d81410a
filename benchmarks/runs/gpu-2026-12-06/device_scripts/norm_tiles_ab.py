"""The fused LayerNorm + modulation kernel with a row as equal-width tiles (the tree) against the kernel at
4c5eaac (a head and a tail tile: ``norm_modulate_at_4c5eaac.py``) on the GPU:

1. each variant a forward runs (the first norm1, norm2 after the cross-attention residual, norm3 after the
   gated self-attention residual, all quantising; the head's fp32 norm) at 1.3B (32,760 x 1,536) and 14B-720p
   (75,600 x 5,120) rows, CUDA graphs of 20 calls, the arms alternated; outputs compared between arms;
2. whole forwards (one random model: FP8-fast linears, fused ops, SageSLA top-k 0.1; a CUDA graph per arm,
   replays alternated) at 1.3B-480p and 14B-720p.

    PYTHONPATH=.:benchmarks:benchmarks/runs/gpu-2026-12-06/device_scripts \\
        python benchmarks/runs/gpu-2026-12-06/device_scripts/norm_tiles_ab.py OUT.json [--skip-14b-forward]
"""

from __future__ import annotations

import contextlib
import json
import sys

import norm_modulate_at_4c5eaac as old
import torch
from forward_ab import median, time_alternated, time_forward_arms

from turbodiffusion.ops.norm_modulate import kernel as tree

ARMS = ("at_4c5eaac", "tiles")
SHAPES = {"1.3B": (32760, 1536), "14B-720p": (75600, 5120)}
# bytes an element each variant must move: x (2), residual (2), x' (2), codes (1); the head writes fp32 y (4)
VARIANTS = {
    "norm1 (first)": 3,
    "norm2 (residual, modulation)": 7,
    "norm3 (residual, gate, affine)": 7,
    "head": 6,
}


@contextlib.contextmanager
def arm(name):
    """The launcher calls ``_norm_modulate_op`` by its module global, so the swap reaches captures too."""
    saved = tree._norm_modulate_op
    if name == "at_4c5eaac":
        tree._norm_modulate_op = old._norm_modulate_op
    try:
        yield
    finally:
        tree._norm_modulate_op = saved


def call(variant, x, r, gate, scale, shift, w, b):
    if variant.startswith("norm1"):
        return tree.norm_modulate_fp8_triton(x, scale, shift)
    if variant.startswith("norm2"):
        return tree.residual_norm_modulate_triton(x, r, None, scale, shift, quantize=True)
    if variant.startswith("norm3"):
        return tree.residual_norm_modulate_triton(x, r, gate, weight=w, bias=b, quantize=True)
    return tree.head_norm_modulate_triton(x, scale, shift)


def flat(out) -> list[torch.Tensor]:
    """The output's tensors (codes as int8), for comparing arms."""
    if hasattr(out, "codes"):
        return [out.codes.view(torch.int8).clone(), out.scale.clone()]
    if isinstance(out, tuple):
        return [t for part in out if part is not None for t in flat(part)]
    return [out.clone()]


def kernel_rows(shape: str, seq: int, dim: int) -> list[dict]:
    device = torch.device("cuda")
    g = torch.Generator(device).manual_seed(dim)
    x = (torch.randn(1, seq, dim, device=device, generator=g) + 0.3).to(torch.bfloat16)
    r = torch.randn(1, seq, dim, device=device, generator=g).to(torch.bfloat16)
    gate, scale, shift = (0.1 * torch.randn(1, 1, dim, device=device, generator=g) for _ in range(3))
    w, b = torch.rand(dim, device=device) + 0.5, 0.1 * torch.randn(dim, device=device)
    rows = []
    for variant, bytes_per in VARIANTS.items():
        outs, graphs = {}, {}
        for a in ARMS:
            with arm(a):
                outs[a] = flat(call(variant, x, r, gate, scale, shift, w, b))
                graph = torch.cuda.CUDAGraph()
                with torch.cuda.graph(graph):
                    for _ in range(20):
                        call(variant, x, r, gate, scale, shift, w, b)
                graphs[a] = graph
        ms = time_alternated({a: graph.replay for a, graph in graphs.items()}, 4, 3, device, per_call=20)
        med = {a: median(v) for a, v in ms.items()}
        same = [
            (p.float() == q.float()).float().mean().item() for p, q in zip(outs["tiles"], outs["at_4c5eaac"])
        ]
        code_steps = [
            (p.float() - q.float()).abs().max().item()
            for p, q in zip(outs["tiles"], outs["at_4c5eaac"])
            if p.dtype == torch.int8
        ]
        rows.append(
            dict(
                part="kernel", shape=shape, variant=variant, ms=med, speedup=med["at_4c5eaac"] / med["tiles"],
                tb_per_s={a: seq * dim * bytes_per / med[a] / 1e9 for a in ARMS},
                equal_share=same, max_code_diff=code_steps,
                tuned={
                    "tiles": str(getattr(tree._norm_modulate_tuned, "best_config", None)),
                    "at_4c5eaac": str(getattr(old._norm_modulate_tuned, "best_config", None)),
                },
            )
        )  # fmt: skip
        print(json.dumps(rows[-1]), flush=True)
        del graphs
    return rows


def main(out_path: str, skip_14b_forward: bool) -> None:
    rows: list[dict] = []

    def save():
        with open(out_path, "w") as f:
            json.dump(rows, f, indent=1)

    for shape, (seq, dim) in SHAPES.items():
        rows += kernel_rows(shape, seq, dim)
        save()
        torch.cuda.empty_cache()
    arms = {a: lambda a=a: arm(a) for a in ARMS}
    rows.append(dict(part="forward", **time_forward_arms("wan2.1-t2v-1.3b", "480p", arms, 6, 8)))
    print(json.dumps(rows[-1]), flush=True)
    save()
    if not skip_14b_forward:
        rows.append(dict(part="forward", **time_forward_arms("wan2.1-t2v-14b", "720p", arms, 2, 3)))
        print(json.dumps(rows[-1]), flush=True)
        save()


if __name__ == "__main__":
    main(sys.argv[1], "--skip-14b-forward" in sys.argv[2:])
