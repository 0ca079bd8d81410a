"""SageSLA's block selection pooled by the INT8 quantisers (``quantize_int8_pooled_triton``, the launcher since
2026-12-05e) against the separate pooling pass it replaced, on the GPU:

1. one layer's SageSLA call alone at 1.3B-480p and 14B-720p (q, k, v random, the launcher's own selection),
   CUDA graphs of 20 calls, the arms alternated; the two arms' luts compared;
2. whole forwards (one random model: FP8-fast linears, fused ops, SageSLA top-k 0.1; a CUDA graph per arm,
   replays alternated) at 1.3B-480p and 14B-720p, with the outputs compared.

    PYTHONPATH=.:benchmarks python benchmarks/runs/cpu-2026-12-05e/device_scripts/pooled_quant_ab.py OUT.json
"""

from __future__ import annotations

import contextlib
import functools
import json
import sys

import torch
from forward_ab import median, time_alternated, time_forward_arms

from turbodiffusion.attention.sage.kernel import SAGE_DTYPES, sage_forward_triton, uses_wgmma_kernel
from turbodiffusion.attention.sagesla import kernel as sagesla_kernel
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import check_kernel_inputs, check_proj, summarize_kv

LAUNCHER = sagesla_kernel.sagesla_forward_triton
# The pooled path this script timed as "fused" was the launcher's default when it ran (h100-2026-12-05); it
# became opt-in after that run, so the arm asks for it by name.
FUSED = functools.partial(LAUNCHER, pooled_selection=True)


def separate(q, k, v, weight, bias, *, topk, block_q, block_k, pv, v_range, eps, selection=None):
    """The launcher as it was at 562b20f: a pooling pass of its own (select_blocks), then the quantisers."""
    check_kernel_inputs(q, k, v, SAGE_DTYPES)
    check_proj(weight, bias, q.shape[-1])
    wgmma = uses_wgmma_kernel(q, k, v, True, pv, block_q, block_k)
    summary = summarize_kv(k, v, state=True, stats=True, weight=weight if wgmma else None)
    if selection is None:
        selection = select_blocks(q, k, block_q, block_k, topk, k_mean=summary.k_mean)
    return sage_forward_triton(
        q, k, v, block_q=block_q, block_k=block_k, pv=pv, v_range=v_range, lut=selection.lut,
        proj=(weight, bias), eps=eps, summary=summary,
    )  # fmt: skip


@contextlib.contextmanager
def arm(name):
    """sagesla_attention imports the launcher at call time, so the swap reaches captures too."""
    sagesla_kernel.sagesla_forward_triton = FUSED if name == "fused" else separate
    try:
        yield
    finally:
        sagesla_kernel.sagesla_forward_triton = LAUNCHER


ARMS = ("separate", "fused")
SHAPES = {"1.3B-480p": (32760, 12), "14B-720p": (75600, 40)}  # tokens, heads (D 128)


def layer_row(name: str, seq: int, heads: int) -> dict:
    """One SageSLA call (D 128, top-k 0.1, the launcher's own selection) per arm: graphs of 20 calls, the arms
    alternated four rounds; median ms a call and the largest difference between the arms' outputs."""
    from turbodiffusion.attention.sagesla import sagesla_attention

    device = torch.device("cuda")
    g = torch.Generator(device).manual_seed(seq)
    q, k, v = (torch.randn(1, seq, heads, 128, generator=g, device=device).to(torch.bfloat16) for _ in "qkv")
    proj = torch.nn.Linear(128, 128).to(device)

    def call() -> torch.Tensor:
        return sagesla_attention(q, k, v, proj, topk=0.1)

    outs, graphs = {}, {}
    for a in ARMS:
        with arm(a), torch.no_grad():
            outs[a] = call().float().clone()
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for _ in range(20):
                    call()
            graphs[a] = graph
    ms = time_alternated({a: graph.replay for a, graph in graphs.items()}, 4, 3, device, per_call=20)
    med = {a: median(v) for a, v in ms.items()}
    diff = (outs["fused"] - outs["separate"]).abs().max().item()
    return dict(part="layer", shape=name, ms=med, speedup=med["separate"] / med["fused"], max_abs_diff=diff)


def time_layers(rows):
    for name, (seq, heads) in SHAPES.items():
        rows.append(layer_row(name, seq, heads))
        print(json.dumps(rows[-1]), flush=True)
        torch.cuda.empty_cache()


def time_forwards(rows, preset, resolution, rounds, reps):
    row = dict(
        part="forward",
        **time_forward_arms(preset, resolution, {a: lambda a=a: arm(a) for a in ARMS}, rounds, reps),
    )
    print(json.dumps(row), flush=True)
    rows.append(row)


def main(out_path: str) -> None:
    rows: list[dict] = []

    def save():
        with open(out_path, "w") as f:
            json.dump(rows, f, indent=1)

    time_layers(rows)
    save()
    time_forwards(rows, "wan2.1-t2v-1.3b", "480p", 6, 8)
    save()
    time_forwards(rows, "wan2.1-t2v-14b", "720p", 2, 3)
    save()


if __name__ == "__main__":
    main(sys.argv[1])
