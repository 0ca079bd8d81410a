"""Device sweep (2026-12-03): where the sparse Sage kernel's time goes, and SageSLA at (BLKQ, BLKK) = (64, 128)
(the official sm90 blocks) against (128, 64) (the official blocks elsewhere).

    PYTHONPATH=. python benchmarks/runs/h200-2026-12-03/device_scripts/sage_blocks_sweep.py OUT.json

Per shape and block pair: the whole SageSLA op, then the sparse kernel alone at each launch setting, at top-k
0.05 / 0.1 / 0.2 (the per-tile and per-program costs), and with every query block given the same key blocks
(the same work and bytes, but each key tile shared by all programs of a head at once: what locality buys).
Accuracy: relative L2 of each pair's output against dense bf16 SDPA on inputs with local structure (tokens
on the video's latent grid, q and k sharing smooth features of position), an indicative number only.
Times from CUDA graphs of back-to-back calls (GPU time only).
"""

from __future__ import annotations

import json
import math
import sys

import torch
import torch.nn.functional as F
import triton

from turbodiffusion.attention.sage import kernel as sage_kernel
from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sagesla import sagesla_attention
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, linear_branch_triton, linear_operands, summarize_kv

# (batch, tokens, heads, head dim) and the latent grid (frames, height, width) of the tokens.
SHAPES = {"1.3b-480p": ((1, 32760, 12, 128), (21, 30, 52)), "14b-720p": ((1, 75600, 40, 128), (21, 45, 80))}
SETTINGS = ((64, 4, 2), (64, 4, 3), (64, 4, 4), (64, 8, 2), (64, 8, 3), (128, 8, 2), (128, 8, 3), (128, 4, 2))


def graph_ms(fn, n: int = 10) -> float:
    """GPU milliseconds per call of fn, from a CUDA graph of n calls (median of 5 replays)."""
    fn()
    torch.cuda.synchronize()
    stream = torch.cuda.Stream()
    stream.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(stream):
        fn()
    torch.cuda.current_stream().wait_stream(stream)
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(n):
            fn()
    times = []
    for _ in range(5):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / n)
    return sorted(times)[2]


def rel(a: torch.Tensor, b: torch.Tensor) -> float:
    return float((a.float() - b.float()).norm() / b.float().norm().clamp_min(1e-30))


def local_inputs(shape, grid, g):
    """q, k, v [B, L, H, D] bf16 whose q.k falls with distance on the latent grid (random Fourier features of
    position, shared by q and k, plus noise)."""
    b, seq, h, d = shape
    f, hh, ww = grid
    pos = torch.stack(
        torch.meshgrid(
            *(torch.arange(n, device="cuda", dtype=torch.float32) for n in (f, hh, ww)), indexing="ij"
        ),
        dim=-1,
    ).reshape(-1, 3)[:seq]
    freqs = torch.randn(h, 3, d // 2, device="cuda", generator=g) * 0.35
    phase = torch.einsum("lc,hcd->lhd", pos, freqs)
    feat = torch.cat([phase.cos(), phase.sin()], dim=-1) * 2.0  # [L, H, D]
    q = (feat + 0.5 * torch.randn(seq, h, d, device="cuda", generator=g))[None].expand(b, -1, -1, -1)
    k = (feat + 0.5 * torch.randn(seq, h, d, device="cuda", generator=g))[None].expand(b, -1, -1, -1)
    v = torch.randn(b, seq, h, d, device="cuda", generator=g)
    return q.bfloat16().contiguous(), k.bfloat16().contiguous(), v.bfloat16().contiguous()


def kernel_rows(name, q, k, v, bq, bk, proj):
    """The sparse kernel alone per launch setting and top-k, and with a shared lut."""
    b, seq, h, d = q.shape
    summary = summarize_kv(k, v, state=True, stats=True)
    qi, qs = quantize_int8_triton(q, bq)
    ki, ks = quantize_int8_triton(k, bk, summary.k_mean, pad_rows=True)
    vq, vs = quantize_v_fp8_triton(v, summary.v_amax, 2.25)
    lin = torch.empty_like(q)
    linear_branch_triton(q, *linear_operands(q, k, v, proj.weight, proj.bias, summary), 1e-5 / seq, lin)
    mq = triton.cdiv(seq, bq)
    rows = []
    for topk in (0.05, 0.1, 0.2):
        lut = select_blocks(q, k, bq, bk, topk, k_mean=summary.k_mean).lut
        luts = {"selected": lut}
        if topk == 0.1:
            luts["shared"] = lut[:, :, :1].expand_as(lut)  # every query block walks the same key blocks
        for lut_kind, lut_t in luts.items():
            lut32, nt = lut_t.to(torch.int32).contiguous(), lut_t.shape[-1]
            o = torch.empty_like(q)
            args = (
                qi, qs, ki, ks, vq, vs, v, lut32, o,
                v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2),
                h, seq, vq.shape[-1], ki.shape[2], qs.shape[-1], ks.shape[-1], mq, nt, LOG2E / math.sqrt(d),
            )  # fmt: skip
            cx = dict(D=d, BLKQ=bq, BLKK=bk, BLOCK_N=bk, SPARSE=True, LINEAR=True, PV_FP8=True,
                      EMULATE_FP8=False, PRECISION="tf32", WIDE=False)  # fmt: skip
            copy_ms = graph_ms(lambda o=o: o.copy_(lin))
            for block_m, warps, stages in SETTINGS:
                if block_m > bq or (topk != 0.1 or lut_kind != "selected") and (block_m, warps, stages) not in (
                    (64, 4, 3), (128, 8, 2), (bq, 8 if bq == 128 else 4, 3)):  # fmt: skip
                    continue
                grid = (triton.cdiv(seq, block_m), b * h)

                def run(o=o, grid=grid, args=args, cx=cx, bm=block_m, w=warps, s=stages):
                    o.copy_(lin)
                    sage_kernel._sage_fwd_kernel[grid](*args, **cx, BLOCK_M=bm, num_warps=w, num_stages=s)

                try:
                    ms = graph_ms(run) - copy_ms
                    tiles = b * h * triton.cdiv(seq, block_m) * nt * (block_m // 64) * (bk // 64)
                    row = {"what": "sparse_kernel", "shape": name, "blocks": [bq, bk], "topk": topk,
                           "lut": lut_kind, "block_m": block_m, "warps": warps, "stages": stages, "nt": nt,
                           "ms": ms, "ns_per_64x64_tile_per_sm": ms * 1e6 * 132 / tiles}  # fmt: skip
                except Exception as err:  # noqa: BLE001
                    row = {"what": "sparse_kernel", "shape": name, "blocks": [bq, bk], "block_m": block_m,
                           "warps": warps, "stages": stages, "error": str(err)[:300]}  # fmt: skip
                rows.append(row)
                print(row, flush=True)
    return rows


def main() -> None:
    results = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__,
               "rows": []}  # fmt: skip
    out = sys.argv[1]
    for name, (shape, grid) in SHAPES.items():
        g = torch.Generator(device="cuda").manual_seed(0)
        q, k, v = local_inputs(shape, grid, g)
        d = shape[-1]
        proj = torch.nn.Linear(d, d, device="cuda")
        with torch.no_grad():
            proj.weight.zero_()
            proj.bias.zero_()  # accuracy of the sparse part alone; timing is the same with any weights
        dense = F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v))).transpose(1, 2)
        for bq, bk in ((64, 128), (128, 64)):
            o = sagesla_attention(q, k, v, proj, topk=0.1, block_q=bq, block_k=bk)
            ms = graph_ms(
                lambda q=q, k=k, v=v, p=proj, bq=bq, bk=bk: sagesla_attention(
                    q, k, v, p, topk=0.1, block_q=bq, block_k=bk
                )
            )
            row = {
                "what": "sagesla_op",
                "shape": name,
                "blocks": [bq, bk],
                "ms": ms,
                "rel_l2_vs_dense": rel(o, dense),
            }
            results["rows"].append(row)
            print(row, flush=True)
            results["rows"] += kernel_rows(name, q, k, v, bq, bk, proj)
            with open(out, "w") as fh:
                json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
