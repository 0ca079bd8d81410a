"""Device sweep (exploratory, one call): INT8 GEMM variants, SageSLA kernel variants, the GELU epilogue.

Each variant is checked against the production kernel on the same inputs before it is timed.
    PYTHONPATH=. python benchmarks/runs/h200-2026-12-02f/device_scripts/sweep.py OUT.json
"""

from __future__ import annotations

import json
import math
import sys
import traceback

import torch
import torch.nn.functional as F
import triton
import triton.language as tl

from turbodiffusion.attention.sage.kernel import _sage_fwd_tuned
from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sage.reference import LOG2_FP8_MAX, smoothing_mean, v_scale_reference
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, kv_state_triton
from turbodiffusion.quant.gemm.kernel import scaled_mm_triton

_L2MAX = tl.constexpr(LOG2_FP8_MAX)


def time_ms(fn, reps=10):
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


# ---------------------------------------------------------------- GEMM variants


@triton.jit
def _mm_v(
    a_ptr, as_ptr, b_ptr, bs_ptr, bias_ptr, c_ptr, M, N, K, stride_am, stride_bn, stride_cm, stride_asr,
    BM: tl.constexpr, BN: tl.constexpr, GROUP_M: tl.constexpr, MAGIC: tl.constexpr, TMA: tl.constexpr,
    WS: tl.constexpr, STAGES: tl.constexpr,
):  # fmt: skip
    BK: tl.constexpr = 128
    pid = tl.program_id(0)
    num_m = tl.cdiv(M, BM)
    num_n = tl.cdiv(N, BN)
    group = pid // (GROUP_M * num_n)
    first_m = group * GROUP_M
    group_size = tl.minimum(num_m - first_m, GROUP_M)
    pid_m = first_m + (pid % (GROUP_M * num_n)) % group_size
    pid_n = (pid % (GROUP_M * num_n)) // group_size
    offs_m = pid_m * BM + tl.arange(0, BM)
    offs_n = pid_n * BN + tl.arange(0, BN)
    offs_k = tl.arange(0, BK)
    mask_m = offs_m < M
    mask_n = offs_n < N
    n_kb = K // BK
    if TMA:
        a_desc = tl.make_tensor_descriptor(a_ptr, shape=[M, K], strides=[stride_am, 1], block_shape=[BM, BK])
        b_desc = tl.make_tensor_descriptor(b_ptr, shape=[N, K], strides=[stride_bn, 1], block_shape=[BN, BK])
    a_ptrs = a_ptr + offs_m.to(tl.int64)[:, None] * stride_am + offs_k[None, :]
    b_ptrs = b_ptr + offs_n.to(tl.int64)[None, :] * stride_bn + offs_k[:, None]
    as_ptrs = as_ptr + (offs_m // 128).to(tl.int64) * stride_asr
    bs_ptrs = bs_ptr + (offs_n // 128) * n_kb
    acc = tl.zeros((BM, BN), dtype=tl.float32)
    for kb in tl.range(0, n_kb, num_stages=STAGES, warp_specialize=WS):
        if TMA:
            a = a_desc.load([pid_m * BM, kb * BK])
            b = b_desc.load([pid_n * BN, kb * BK]).T
        else:
            a = tl.load(a_ptrs + kb * BK, mask=mask_m[:, None])
            b = tl.load(b_ptrs + kb * BK, mask=mask_n[None, :])
        p = tl.dot(a, b, out_dtype=tl.int32)
        if MAGIC:  # exact for |p| < 2^22: the integer lands in the mantissa of 1.5 * 2^23
            pf = (p + 0x4B400000).to(tl.float32, bitcast=True) - 12582912.0
        else:
            pf = p.to(tl.float32)
        sa = tl.load(as_ptrs + kb, mask=mask_m, other=0.0)
        sb = tl.load(bs_ptrs + kb, mask=mask_n, other=0.0)
        acc += pf * (sa[:, None] * sb[None, :])
    c = acc.to(c_ptr.dtype.element_ty)
    bias = tl.load(bias_ptr + offs_n, mask=mask_n, other=0.0)
    c = (c.to(tl.float32) + bias.to(tl.float32)[None, :]).to(c_ptr.dtype.element_ty)
    tl.store(
        c_ptr + offs_m.to(tl.int64)[:, None] * stride_cm + offs_n[None, :],
        c,
        mask=mask_m[:, None] & mask_n[None, :],
    )


def run_variant(a, a_s, b, b_s, bias, cfg):
    m, k = a.shape
    n = b.shape[0]
    c = torch.empty(m, n, device=a.device, dtype=torch.bfloat16)
    bm, bn = cfg["BM"], cfg["BN"]
    grid = (triton.cdiv(m, bm) * triton.cdiv(n, bn),)
    _mm_v[grid](
        a, a_s, b, b_s, bias, c, m, n, k, a.stride(0), b.stride(0), c.stride(0), a_s.stride(0),
        BM=bm, BN=bn, GROUP_M=8, MAGIC=cfg["MAGIC"], TMA=cfg["TMA"], WS=cfg["WS"], STAGES=cfg["stages"],
        num_warps=cfg["warps"],
    )  # fmt: skip
    return c


GEMM_SHAPES = [
    ("1.3b qkvo", 32760, 1536, 1536),
    ("1.3b ffn_up", 32760, 8960, 1536),
    ("1.3b ffn_down", 32760, 1536, 8960),
    ("14b-720p qkvo", 75600, 5120, 5120),
    ("14b-720p ffn_up", 75600, 13824, 5120),
    ("14b-720p ffn_down", 75600, 5120, 13824),
]


def gemm_configs():
    out = []
    for magic in (0, 1):
        for tma in (0, 1):
            for bm, bn, st, w in ((128, 128, 4, 8), (128, 256, 3, 8), (256, 128, 3, 8)):
                out.append(dict(MAGIC=magic, TMA=tma, WS=False, BM=bm, BN=bn, stages=st, warps=w))
    for bm, bn, st, w in ((128, 128, 4, 8), (128, 256, 3, 8)):
        out.append(dict(MAGIC=1, TMA=1, WS=True, BM=bm, BN=bn, stages=st, warps=w))
        out.append(dict(MAGIC=0, TMA=1, WS=True, BM=bm, BN=bn, stages=st, warps=w))
    return out


def gemm_sweep(results):
    triton.set_allocator(lambda size, align, stream: torch.empty(size, dtype=torch.int8, device="cuda"))
    for name, m, n, k in GEMM_SHAPES:
        gemm_one(results, name, m, n, k)
        torch.cuda.empty_cache()


def gemm_one(results, name, m, n, k):
    g = torch.Generator(device="cuda").manual_seed(0)
    a = torch.randint(-127, 128, (m, k), device="cuda", dtype=torch.int8, generator=g)
    b = torch.randint(-127, 128, (n, k), device="cuda", dtype=torch.int8, generator=g)
    a_s = torch.rand(triton.cdiv(m, 128), k // 128, device="cuda", generator=g) * 1e-3
    b_s = torch.rand(n // 128, k // 128, device="cuda", generator=g) * 1e-3
    bias = torch.randn(n, device="cuda", generator=g).bfloat16()
    x = torch.randn(m, k, device="cuda", dtype=torch.bfloat16, generator=g)
    w = torch.randn(n, k, device="cuda", dtype=torch.bfloat16, generator=g)
    flop = 2.0 * m * n * k
    ref = scaled_mm_triton(a, a_s, b, b_s, bias, out_dtype=torch.bfloat16)
    rows = [
        {"variant": "bf16 F.linear", "ms": time_ms(lambda: F.linear(x, w, bias))},
        {"variant": "production", "ms": time_ms(lambda: scaled_mm_triton(a, a_s, b, b_s, bias))},
        {"variant": "torch._int_mm (no scales)", "ms": time_ms(lambda: torch._int_mm(a, b.t()))},
    ]
    for cfg in gemm_configs():
        row = {"variant": json.dumps(cfg)}
        try:
            out = run_variant(a, a_s, b, b_s, bias, cfg)
            torch.cuda.synchronize()
            d = (out.float() - ref.float()).abs()
            row["max_abs_diff"] = d.max().item()
            row["frac_diff"] = (d > 0).float().mean().item()
            row["ms"] = time_ms(lambda cfg=cfg: run_variant(a, a_s, b, b_s, bias, cfg))
        except Exception as e:  # noqa: BLE001 - record and go on
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        rows.append(row)
    for row in rows:
        if "ms" in row:
            row["tflops"] = flop / row["ms"] / 1e9
    results["gemm"][name] = rows
    best = sorted((r for r in rows if "ms" in r), key=lambda r: r["ms"])[:4]
    print(name, [(r["variant"], round(r["ms"], 3), round(r["tflops"])) for r in best], flush=True)


# ---------------------------------------------------------------- SageSLA kernel variants


@triton.jit
def _sage_v(
    QI, QS, KI, KS, VQ, VS, LUT, Out,
    H, L, LP, NQB, NKB, MQ, NT, qk_scale,
    D: tl.constexpr, BLKQ: tl.constexpr, BLKK: tl.constexpr, BLOCK_M: tl.constexpr, BLOCK_N: tl.constexpr,
    SCALAR_KS: tl.constexpr, TAIL_MASK: tl.constexpr, FRESH: tl.constexpr, MAGIC: tl.constexpr,
):  # fmt: skip
    # Sparse, FP8 P.V, no linear branch: the part of _sage_fwd_kernel the variants change.
    pid_m = tl.program_id(0)
    pid_bh = tl.program_id(1)
    rows = pid_m * BLOCK_M + tl.arange(0, BLOCK_M)
    row_ok = rows < L
    dims = tl.arange(0, D)
    bh_ld = pid_bh.to(tl.int64) * L * D
    bh_kd = pid_bh.to(tl.int64) * LP * D
    qi = tl.load(QI + bh_ld + rows[:, None] * D + dims[None, :], mask=row_ok[:, None], other=0)
    qs = tl.load(QS + pid_bh.to(tl.int64) * NQB + rows // BLKQ, mask=row_ok, other=0.0) * qk_scale
    ks_base = KS + pid_bh.to(tl.int64) * NKB
    vq_base = VQ + pid_bh.to(tl.int64) * D * LP
    lut_row = LUT + (pid_bh.to(tl.int64) * MQ + (pid_m * BLOCK_M) // BLKQ) * NT
    m_i = tl.full([BLOCK_M], float("-inf"), dtype=tl.float32)
    l_i = tl.zeros([BLOCK_M], dtype=tl.float32)
    acc = tl.zeros([BLOCK_M, D], dtype=tl.float32)
    for t in range(NT):
        start = tl.load(lut_row + t) * BLOCK_N
        cols = start + tl.arange(0, BLOCK_N)
        if TAIL_MASK:  # K codes padded to LP with zeros: no load mask; -inf only on the partial tile
            ki = tl.load(KI + bh_kd + cols[:, None] * D + dims[None, :])
        else:
            ki = tl.load(KI + bh_ld + cols[:, None] * D + dims[None, :], mask=(cols < L)[:, None], other=0)
        si = tl.dot(qi, tl.trans(ki))
        if MAGIC:  # |si| <= 127 * 127 * 128 < 2^21: exact through the mantissa of 1.5 * 2^23
            sf = (si + 0x4B400000).to(tl.float32, bitcast=True) - 12582912.0
        else:
            sf = si.to(tl.float32)
        if SCALAR_KS:
            s = sf * (qs * tl.load(ks_base + start // BLKK))[:, None]
        else:
            ks = tl.load(ks_base + cols // BLKK, mask=cols < L, other=0.0)
            s = sf * qs[:, None] * ks[None, :]
        if TAIL_MASK:
            if start + BLOCK_N > L:
                s = tl.where((cols < L)[None, :], s, float("-inf"))
        else:
            s = tl.where((cols < L)[None, :], s, float("-inf"))
        m_new = tl.maximum(m_i, tl.max(s, 1))
        alpha = tl.exp2(m_i - m_new)
        p = tl.exp2(s - (m_new - _L2MAX)[:, None])
        vt = tl.load(vq_base + dims[:, None] * LP + cols[None, :])
        if FRESH:
            acc = acc * alpha[:, None] + tl.dot(p.to(tl.float8e4nv), tl.trans(vt))
        else:
            acc = tl.dot(p.to(tl.float8e4nv), tl.trans(vt), acc * alpha[:, None])
        l_i = l_i * alpha + tl.sum(p, 1)
        m_i = m_new
    o = acc / l_i[:, None] * tl.load(VS + pid_bh.to(tl.int64) * D + dims)[None, :]
    o_ptr = Out + pid_bh.to(tl.int64) * L * D + rows[:, None] * D + dims[None, :]
    tl.store(o_ptr, o.to(Out.dtype.element_ty), mask=row_ok[:, None])


def attention_sweep(results):
    for name, seq, h in (("1.3b-480p", 32760, 12), ("14b-720p", 75600, 40)):
        attention_one(results, name, seq, h)
        torch.cuda.empty_cache()


def attention_one(results, name, seq, h):
    g = torch.Generator(device="cuda").manual_seed(1)
    q, k, v = (
        torch.randn(1, seq, h, 128, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(3)
    )
    bq, bk = 64, 128
    rows = []
    rows.append({"part": "select_blocks", "ms": time_ms(lambda: select_blocks(q, k, bq, bk, 0.1))})
    sel = select_blocks(q, k, bq, bk, 0.1)
    lut = sel.lut.to(torch.int32).contiguous()
    rows.append({"part": "quantize q", "ms": time_ms(lambda: quantize_int8_triton(q, bq))})
    rows.append({"part": "k mean", "ms": time_ms(lambda: smoothing_mean(k))})
    mean = smoothing_mean(k)
    rows.append({"part": "quantize k", "ms": time_ms(lambda: quantize_int8_triton(k, bk, mean))})
    rows.append({"part": "v scale", "ms": time_ms(lambda: v_scale_reference(v, 2.25))})
    vs = v_scale_reference(v, 2.25)
    rows.append(
        {
            "part": "v amax via vector_norm",
            "ms": time_ms(lambda: torch.linalg.vector_norm(v, float("inf"), dim=1)),
        }
    )
    rows.append({"part": "quantize v", "ms": time_ms(lambda: quantize_v_fp8_triton(v, vs))})
    rows.append({"part": "kv state", "ms": time_ms(lambda: kv_state_triton(k, v))})
    qi, qs = quantize_int8_triton(q, bq)
    ki, ks = quantize_int8_triton(k, bk, mean)
    vq = quantize_v_fp8_triton(v, vs)
    lp = vq.shape[-1]
    ki_pad = torch.zeros(1, h, lp, 128, device="cuda", dtype=torch.int8)
    ki_pad[:, :, :seq] = ki
    mq, nt = triton.cdiv(seq, bq), lut.shape[-1]
    o = torch.empty_like(q)
    prod_args = (
        qi, qs, ki, ks, vq, vs, v, lut, q, qs, qs, qs, qs, o,
        v.stride(0), v.stride(1), v.stride(2), q.stride(0), q.stride(1), q.stride(2),
        o.stride(0), o.stride(1), o.stride(2),
        h, seq, lp, qs.shape[-1], ks.shape[-1], mq, nt, LOG2E / math.sqrt(128), 0.0,
    )  # fmt: skip
    flags = dict(
        D=128, BLKQ=bq, BLKK=bk, BLOCK_N=bk, SPARSE=True, LINEAR=False, PV_FP8=True, EMULATE_FP8=False,
        PRECISION="tf32", WIDE=False,
    )  # fmt: skip

    def prod():
        _sage_fwd_tuned[(triton.cdiv(seq, 64), h)](*prod_args, **flags)

    prod()
    ref = o.clone()  # [1, L, H, D]
    flop = 4.0 * h * seq * nt * bk * 128
    rows.append(
        {"part": "kernel production", "ms": time_ms(prod), "best_config": str(_sage_fwd_tuned.best_config)}
    )
    combos = [(0, 0, 0, 0)] + [(1, t, f, mg) for t in (0, 1) for f in (0, 1) for mg in (0, 1)]
    for scalar, tail, fresh, magic in combos:
        for warps, stages in ((4, 3), (4, 4), (8, 2), (8, 3)):
            ov = torch.empty(1, h, seq, 128, device="cuda", dtype=torch.bfloat16)
            row = {
                "part": f"variant scalar_ks={scalar} tail_mask={tail} fresh={fresh} magic={magic} w{warps} s{stages}"
            }

            def var(scalar=scalar, tail=tail, fresh=fresh, magic=magic, warps=warps, stages=stages, ov=ov):
                _sage_v[(mq, h)](
                    qi, qs, ki_pad if tail else ki, ks, vq, vs, lut, ov, h, seq, lp, qs.shape[-1],
                    ks.shape[-1], mq, nt, LOG2E / math.sqrt(128), D=128, BLKQ=bq, BLKK=bk,
                    BLOCK_M=64, BLOCK_N=bk, SCALAR_KS=scalar, TAIL_MASK=tail, FRESH=fresh, MAGIC=magic,
                    num_warps=warps, num_stages=stages,
                )  # fmt: skip

            try:
                var()
                torch.cuda.synchronize()
                d = (ov.transpose(1, 2).float() - ref.float()).abs()
                row["max_abs_diff"] = d.max().item()
                row["ms"] = time_ms(var)
            except Exception as e:  # noqa: BLE001
                row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
            rows.append(row)
    for row in rows:
        if "kernel" in row["part"] or "variant" in row["part"]:
            if "ms" in row:
                row["tflops"] = flop / row["ms"] / 1e9
    results["attention"][name] = rows
    for row in rows:
        print(name, row, flush=True)


def gelu_check(results):
    g = torch.Generator(device="cuda").manual_seed(2)
    x = torch.randn(32760, 1536, device="cuda", dtype=torch.bfloat16, generator=g)
    w = torch.randn(8960, 1536, device="cuda", dtype=torch.bfloat16, generator=g) * 0.03
    b = torch.randn(8960, device="cuda", dtype=torch.bfloat16, generator=g)
    fused = torch._addmm_activation(b, x, w.t(), use_gelu=True)
    pre = F.linear(x, w, b)
    tanh, erf = F.gelu(pre, approximate="tanh"), F.gelu(pre)
    exact_tanh = F.gelu(pre.float(), approximate="tanh")
    results["gelu"] = {
        "max_diff_vs_tanh": (fused.float() - tanh.float()).abs().max().item(),
        "max_diff_vs_erf": (fused.float() - erf.float()).abs().max().item(),
        "rms_err_fused_vs_fp32_tanh": (fused.float() - exact_tanh).pow(2).mean().sqrt().item(),
        "rms_err_eager_vs_fp32_tanh": (tanh.float() - exact_tanh).pow(2).mean().sqrt().item(),
        "ms_fused": time_ms(lambda: torch._addmm_activation(b, x, w.t(), use_gelu=True)),
        "ms_eager": time_ms(lambda: F.gelu(F.linear(x, w, b), approximate="tanh")),
    }
    print("gelu", results["gelu"], flush=True)


def main():
    out = sys.argv[1]
    results = {
        "gemm": {},
        "attention": {},
        "device": torch.cuda.get_device_name(),
        "triton": triton.__version__,
    }
    for part in (gelu_check, attention_sweep, gemm_sweep):
        try:
            part(results)
        except Exception:  # noqa: BLE001
            results.setdefault("errors", []).append(traceback.format_exc())
            print(traceback.format_exc(), flush=True)
        with open(out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
