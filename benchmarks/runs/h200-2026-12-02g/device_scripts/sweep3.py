"""Device sweep 3 (exploratory, one call): launch settings of the small memory-bound attention-prep kernels
(block pooling, INT8 quantiser, linear branch with one reciprocal per row), and a lead for later: cuBLASLt
FP8 GEMMs with row-wise scales against bf16 on the model's linear shapes.

Each kernel variant is checked against the production kernel's output before it is timed.
    PYTHONPATH=. python benchmarks/runs/h200-2026-12-02g/device_scripts/sweep3.py OUT.json
"""

from __future__ import annotations

import json
import sys
import traceback

import torch
import triton
import triton.language as tl
from triton.testing import do_bench

from turbodiffusion.attention.sage.quant import _quantize_int8_kernel, quantize_int8_triton
from turbodiffusion.attention.sage.reference import smoothing_mean
from turbodiffusion.attention.sla.kernel_fwd import (
    cast,
    dot_precision,
    kv_state_triton,
    linear_branch_triton,
    linear_state,
    mma,
)
from turbodiffusion.attention.sla.pool_kernel import _pool_blocks_kernel, pool_blocks_triton


def ms(fn):
    return float(do_bench(fn, warmup=20, rep=100))


@triton.jit
def _linear_recip_kernel(
    Q, KV, KSUM, WT, BIAS, Out,
    sqb, sql, sqh, sob, sol, soh,
    H, L, eps,
    D: tl.constexpr, BLOCK_M: tl.constexpr, PRECISION: tl.constexpr,
):  # fmt: skip
    pid_bh = tl.program_id(1)
    b = pid_bh // H
    h = pid_bh % H
    dims = tl.arange(0, D)
    kv, ksum, wt, bias = linear_state(KV, KSUM, WT, BIAS, pid_bh, D)
    q_base = Q + b.to(tl.int64) * sqb + h * sqh
    o_base = Out + b.to(tl.int64) * sob + h * soh
    for tile in range(tl.program_id(0), tl.cdiv(L, BLOCK_M), tl.num_programs(0)):
        rows = tile * BLOCK_M + tl.arange(0, BLOCK_M)
        row_ok = rows < L
        x = tl.load(q_base + rows[:, None] * sql + dims[None, :], mask=row_ok[:, None], other=0.0).to(
            tl.float32
        )
        e = tl.exp2((x - tl.max(x, 1)[:, None]) * 1.4426950408889634)
        phi = e * (1.0 / tl.sum(e, 1))[:, None]
        num = mma(cast(phi, kv.dtype, PRECISION), kv, tl.zeros(x.shape, tl.float32), PRECISION)
        o_l = num * (1.0 / (eps + tl.sum(phi * ksum[None, :], 1)))[:, None]
        y = mma(cast(o_l, wt.dtype, PRECISION), wt, tl.zeros(x.shape, tl.float32), PRECISION) + bias[None, :]
        tl.store(
            o_base + rows[:, None] * sol + dims[None, :],
            cast(y, Out.dtype.element_ty, PRECISION),
            mask=row_ok[:, None],
        )


def prep_kernels(seq, h):
    g = torch.Generator(device="cuda").manual_seed(1)
    q, k, v = (
        torch.randn(1, seq, h, 128, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(3)
    )
    rows = []
    mean16 = k.mean(dim=1)
    for name, x, blk, mean in (("pool q", q, 64, None), ("pool k", k, 128, mean16)):
        ref = pool_blocks_triton(x, blk, mean)
        rows.append(
            {
                "part": f"{name} production",
                "ms": ms(lambda x=x, blk=blk, mean=mean: pool_blocks_triton(x, blk, mean)),
            }
        )
        nb = triton.cdiv(seq, blk)
        for r in (16, 32, 64, 128):
            if r > blk:
                continue
            for w in (1, 2, 4, 8):
                out = torch.empty_like(ref)

                def run(x=x, blk=blk, mean=mean, r=r, w=w, out=out, nb=nb):
                    _pool_blocks_kernel[(nb, h)](
                        x, mean if mean is not None else out, out, x.stride(0), x.stride(1), x.stride(2), h, seq, nb,
                        D=128, BLK=blk, ROWS=r, SMOOTH=mean is not None, PRECISION=dot_precision(x.dtype), WIDE=False, num_warps=w,
                    )  # fmt: skip

                run()
                rows.append(
                    {
                        "part": f"{name} ROWS={r} w{w}",
                        "max_diff": (out.float() - ref.float()).abs().max().item(),
                        "ms": ms(run),
                    }
                )
    kmean = smoothing_mean(k)
    for name, x, blk, mean, pad in (("quant q", q, 64, None, False), ("quant k", k, 128, kmean, True)):
        ref_c, ref_s = quantize_int8_triton(x, blk, mean, pad_rows=pad)
        rows.append(
            {
                "part": f"{name} production",
                "ms": ms(
                    lambda x=x, blk=blk, mean=mean, pad=pad: quantize_int8_triton(x, blk, mean, pad_rows=pad)
                ),
            }
        )
        nb = triton.cdiv(seq, blk)
        for w in (2, 4, 8, 16):
            codes, scale = torch.zeros_like(ref_c), torch.empty_like(ref_s)

            def run(x=x, blk=blk, mean=mean, w=w, codes=codes, scale=scale, nb=nb):
                _quantize_int8_kernel[(nb, h)](
                    x, mean if mean is not None else scale, codes, scale, x.stride(0), x.stride(1), x.stride(2),
                    h, seq, codes.shape[2], nb, D=128, BLK=blk, SMOOTH=mean is not None, WIDE=False, num_warps=w,
                )  # fmt: skip

            run()
            same = bool(torch.equal(codes, ref_c) and torch.equal(scale, ref_s))
            rows.append({"part": f"{name} w{w}", "identical": same, "ms": ms(run)})
    w_ = torch.randn(128, 128, device="cuda", dtype=torch.bfloat16, generator=g) * 0.05
    b_ = torch.randn(128, device="cuda", generator=g) * 0.05
    kv, ksum = kv_state_triton(k, v)
    kvb, wt = kv.to(torch.bfloat16).contiguous(), w_.t().contiguous()
    ref = torch.empty_like(q)
    eps = 1e-5 / seq
    linear_branch_triton(q, kvb, ksum, wt, b_, eps, ref)
    rows.append(
        {"part": "linear production", "ms": ms(lambda: linear_branch_triton(q, kvb, ksum, wt, b_, eps, ref))}
    )
    sms = torch.cuda.get_device_properties(0).multi_processor_count
    for bm, w, st in ((64, 4, 2), (64, 4, 3), (128, 8, 2), (64, 8, 2), (32, 4, 3)):
        for waves in (2, 4, 8):
            out = torch.empty_like(q)
            per_head = max(1, waves * sms // h)

            def run(bm=bm, w=w, st=st, out=out, per_head=per_head):
                _linear_recip_kernel[(min(per_head, triton.cdiv(seq, bm)), h)](
                    q, kvb, ksum, wt, b_, out, q.stride(0), q.stride(1), q.stride(2), out.stride(0), out.stride(1),
                    out.stride(2), h, seq, eps, D=128, BLOCK_M=bm, PRECISION=dot_precision(q.dtype), num_warps=w, num_stages=st,
                )  # fmt: skip

            try:
                run()
                rows.append(
                    {
                        "part": f"linear recip BM={bm} w{w} s{st} waves={waves}",
                        "max_diff": (out.float() - ref.float()).abs().max().item(),
                        "ms": ms(run),
                    }
                )
            except Exception as e:  # noqa: BLE001
                rows.append({"part": f"linear recip BM={bm} w{w} s{st} waves={waves}", "error": str(e)[:300]})
    return rows


def fp8_rowwise(m, n, k):
    g = torch.Generator(device="cuda").manual_seed(2)
    a = torch.randn(m, k, device="cuda", dtype=torch.bfloat16, generator=g)
    wgt = torch.randn(n, k, device="cuda", dtype=torch.bfloat16, generator=g)
    a8, w8 = a.to(torch.float8_e4m3fn), wgt.to(torch.float8_e4m3fn)
    sa = torch.ones(m, 1, device="cuda")
    sw = torch.ones(1, n, device="cuda")
    flop = 2.0 * m * n * k
    row = {"part": f"gemm M={m} N={n} K={k}"}
    t = ms(lambda: torch.nn.functional.linear(a, wgt))
    row["bf16_ms"], row["bf16_tflops"] = t, flop / t / 1e9
    try:
        t = ms(lambda: torch._scaled_mm(a8, w8.t(), sa, sw, out_dtype=torch.bfloat16))
        row["fp8_rowwise_ms"], row["fp8_rowwise_tflops"] = t, flop / t / 1e9
        t = ms(lambda: torch._scaled_mm(a8, w8.t(), sa, sw, out_dtype=torch.bfloat16, use_fast_accum=True))
        row["fp8_rowwise_fastacc_ms"], row["fp8_rowwise_fastacc_tflops"] = t, flop / t / 1e9
    except Exception as e:  # noqa: BLE001
        row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
    return row


def main():
    out = sys.argv[1]
    results = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    for name, fn in (
        ("prep 1.3b-480p", lambda: prep_kernels(32760, 12)),
        ("prep 14b-720p", lambda: prep_kernels(75600, 40)),
        ("gemm", lambda: [fp8_rowwise(m, n, k) for m, n, k in (
            (32760, 1536, 1536), (32760, 8960, 1536), (32760, 1536, 8960),
            (75600, 5120, 5120), (75600, 13824, 5120), (75600, 5120, 13824))]),
    ):  # fmt: skip
        try:
            results[name] = fn()
        except Exception:  # noqa: BLE001
            results[name] = {"error": traceback.format_exc()[-2000:]}
        for row in results[name] if isinstance(results[name], list) else [results[name]]:
            print(name, row, flush=True)
        torch.cuda.empty_cache()
        with open(out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
