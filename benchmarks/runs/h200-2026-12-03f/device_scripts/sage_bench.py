"""Device experiment (2026-12-03f): the Gluon Sage kernel's switches (``sage_variants.py``) against the
production kernel, one SageSLA layer (top-k 0.1, linear branch in the epilogue) at 1.3B-480p and 14B-720p.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03f/device_scripts \
        python benchmarks/runs/h200-2026-12-03f/device_scripts/sage_bench.py OUT.json [--shapes 1.3b,14b]

Each variant's output is compared with the production kernel's (max |difference| in bf16 steps at the
output's scale). Times: median over 7 of the mean of 10 back-to-back calls, variants interleaved over three
rounds (the median of the rounds is reported).
"""

from __future__ import annotations

import argparse
import json
import math

import sage_variants as sv
import torch
import triton

from turbodiffusion.attention.sage import kernel_wgmma as prod
from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, summarize_kv

SHAPES = {"1.3b": (12, 32760), "14b": (40, 75600)}
VARIANTS = {  # name: (fold, tree, prefetch, lazy)
    "copy": (False, False, False, False),
    "fold": (True, False, False, False),
    "tree": (False, True, False, False),
    "prefetch": (False, False, True, False),
    "fold+tree": (True, True, False, False),
    "fold+prefetch": (True, False, True, False),
    "fold+tree+prefetch": (True, True, True, False),
    # Call 3: row sums kept per thread and reduced across lanes once, after the loop.
    "fold+prefetch+lazy": (True, False, True, True),
}


def ms(fn, reps: int = 7, calls: int = 10) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(calls):
            fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / calls)
    return sorted(times)[len(times) // 2]


def operands(h: int, seq: int, d: int = 128):
    g = torch.Generator(device="cuda").manual_seed(seq)
    q, k, v = (torch.randn(1, seq, h, d, device="cuda", generator=g, dtype=torch.bfloat16) for _ in range(3))
    k = k + 2.0 * torch.randn(d, device="cuda", generator=g, dtype=torch.bfloat16)
    weight = (torch.randn(d, d, device="cuda", generator=g) / 8).bfloat16()
    bias = torch.randn(d, device="cuda", generator=g)
    sel = select_blocks(q, k, 64, 128, 0.1)
    summary = summarize_kv(k, v, state=True, stats=True, weight=weight)
    qi, qs = quantize_int8_triton(q, 64)
    ki, ks = quantize_int8_triton(k, 128, summary.k_mean, pad_rows=True)
    vq, vs = quantize_v_fp8_triton(v, summary.v_amax, 448.0)
    linear = prod.LinearBranch(q, summary.m, summary.ksum, bias, 1e-6 / seq)
    lut = sel.lut.to(torch.int32).contiguous()
    out = torch.empty_like(q)
    return (qi, qs, ki, ks, vq, vs, lut, out, LOG2E / math.sqrt(d)), linear


def main() -> None:
    p = argparse.ArgumentParser()
    p.add_argument("json")
    p.add_argument("--shapes", default="1.3b,14b")
    p.add_argument("--variants", default=",".join(VARIANTS))
    args = p.parse_args()
    result = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    for shape in args.shapes.split(","):
        h, seq = SHAPES[shape]
        ops, linear = operands(h, seq)
        out = ops[7]
        runs = {"production": lambda ops=ops, linear=linear: prod.sage_sparse_wgmma(*ops, linear=linear)}
        for name in args.variants.split(","):
            f, t, pf, lz = VARIANTS[name]
            runs[name] = lambda f=f, t=t, pf=pf, lz=lz, ops=ops, linear=linear: sv.sage_sparse_wgmma(
                *ops, linear=linear, fold=f, tree=t, prefetch=pf, lazy=lz
            )
        runs["production"]()
        ref = out.float().clone()
        scale = torch.finfo(torch.bfloat16).eps * ref.abs().max().item()
        rows = {}
        for name, fn in runs.items():
            out.zero_()
            fn()
            diff = (out.float() - ref).abs()
            rows[name] = {
                "max_diff_bf16_steps": diff.max().item() / scale,
                "share_equal": (diff == 0).float().mean().item(),
                "ms": [],
            }
        for _ in range(3):
            for name, fn in runs.items():
                rows[name]["ms"].append(ms(fn))
        base = sorted(rows["production"]["ms"])[1]
        for name, row in rows.items():
            row["ms_median"] = sorted(row["ms"])[1]
            row["vs_production"] = base / row["ms_median"]
            print(
                shape,
                name,
                {k: (round(v, 4) if isinstance(v, float) else v) for k, v in row.items()},
                flush=True,
            )
        result[shape] = {"heads": h, "tokens": seq, "topk": 0.1, "rows": rows}
        del ops, linear, runs
        torch.cuda.empty_cache()
    with open(args.json, "w") as f:
        json.dump(result, f, indent=1)


if __name__ == "__main__":
    main()
