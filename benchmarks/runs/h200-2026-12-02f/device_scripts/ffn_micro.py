"""Device micro-benchmark (call 3): a W8A8 FFN up-projection + GELU + the down-projection's quantiser, unfused
against the fused epilogue under different launch settings, at the 1.3B-480p and 14B-720p shapes.
    PYTHONPATH=. python benchmarks/runs/h200-2026-12-02f/device_scripts/ffn_micro.py OUT.json
"""

from __future__ import annotations

import json
import sys
from functools import partial

import torch
import torch.nn.functional as F
import triton

from turbodiffusion.quant.act_quant import quantize_blockwise
from turbodiffusion.quant.gemm import scaled_mm, scaled_mm_gelu_quant
from turbodiffusion.quant.gemm.kernel import _scaled_mm_kernel


def time_ms(fn, reps=10):
    fn()
    torch.cuda.synchronize()
    start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
    start.record()
    for _ in range(reps):
        fn()
    end.record()
    torch.cuda.synchronize()
    return start.elapsed_time(end) / reps


def fused_variant(a, a_s, b, b_s, bias, bm, stages, warps, lag, fp_fusion):
    m, n, k = a.shape[0], b.shape[0], a.shape[1]
    codes = torch.empty(m, n, dtype=torch.int8, device=a.device)
    scales = torch.empty(triton.cdiv(m, 128), n // 128, dtype=torch.float32, device=a.device)
    grid = (triton.cdiv(m, bm) * (n // 128),)
    _scaled_mm_kernel[grid](
        a, a_s, b, b_s, bias, codes, m, n, k, a.stride(0), b.stride(0), codes.stride(0), a_s.stride(0),
        a_s.stride(1), scales, A_TILE_ROWS=128, HAS_BIAS=True, IS_FP8=False, BM=bm, GROUP_M=8, FOLD_LAG=lag,
        GELU_QUANT=True, num_warps=warps, num_stages=stages, enable_fp_fusion=fp_fusion,
    )  # fmt: skip
    return codes, scales


def measure(m, dim, ffn):
    g = torch.Generator(device="cuda").manual_seed(0)
    h = torch.randn(m, dim, device="cuda", dtype=torch.bfloat16, generator=g)
    wq, ws = quantize_blockwise(torch.randn(ffn, dim, device="cuda", generator=g) * 0.03)
    bias = torch.randn(ffn, device="cuda", generator=g).bfloat16()
    a, a_s = quantize_blockwise(h)
    ops = (a, a_s, wq, ws, bias)
    ref_c, _ = scaled_mm_gelu_quant(*ops, impl="reference")

    def unfused():
        return quantize_blockwise(F.gelu(scaled_mm(*ops), approximate="tanh"))

    rows = {
        "unfused (autotuned GEMM, GELU, quantiser)": time_ms(unfused),
        "gemm alone (autotuned)": time_ms(partial(scaled_mm, *ops)),
        "landed fused": time_ms(partial(scaled_mm_gelu_quant, *ops)),
    }
    for bm, stages, warps, lag in (
        (128, 3, 8, 0),
        (128, 4, 8, 0),
        (128, 5, 8, 0),
        (128, 3, 8, 1),
        (128, 4, 8, 1),
    ):
        for fp_fusion in (False, True):
            run = partial(fused_variant, *ops, bm, stages, warps, lag, fp_fusion)
            diff = (run()[0].int() - ref_c.int()).abs()
            rows[f"fused bm{bm} s{stages} w{warps} lag{lag} fp_fusion={fp_fusion}"] = {
                "ms": time_ms(run), "max_code_diff": diff.max().item(), "frac_equal": (diff == 0).float().mean().item(),
            }  # fmt: skip
    return rows


def main():
    out = {}
    for name, m, dim, ffn in (("1.3b-480p", 32760, 1536, 8960), ("14b-720p", 75600, 5120, 13824)):
        out[name] = measure(m, dim, ffn)
        for k, v in out[name].items():
            print(name, k, v, flush=True)
        with open(sys.argv[1], "w") as f:
            json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
