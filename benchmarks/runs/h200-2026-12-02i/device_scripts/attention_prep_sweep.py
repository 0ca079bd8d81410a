"""Device sweep (2026-12-02i): the Sage kernel before/after its ALU changes, the one-pass K/V summary against
the four passes it replaces (with its launch settings), and the norm kernel's launch settings per output.

    PYTHONPATH=. python benchmarks/runs/h200-2026-12-02i/device_scripts/attention_prep_sweep.py OUT.json

Times come from CUDA graphs of 20 back-to-back calls (GPU time only: Python launch costs of ~50 us would
otherwise hide 60-us kernels). Every variant's output is compared with the current code's.
"""

from __future__ import annotations

import json
import math
import sys

import sage_kernel_before
import torch
import triton

from turbodiffusion.attention.sage import kernel as sage_kernel
from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sage.reference import smoothing_mean, v_scale_of_amax, v_scale_reference
from turbodiffusion.attention.sagesla import default_blocks, sagesla_attention
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import (
    LOG2E,
    KVSummaryLaunch,
    kv_state_triton,
    linear_branch_triton,
    linear_operands,
    summarize_kv,
)
from turbodiffusion.ops.norm_modulate import kernel as norm_kernel
from turbodiffusion.ops.rms_norm.kernel import ROW_CONFIGS

SHAPES = {"1.3b-480p": (1, 32760, 12, 128), "14b-720p": (1, 75600, 40, 128)}


def graph_ms(fn, n: int = 20) -> float:
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


def sage_rows(name, shape, topk=0.1):
    b, seq, h, d = shape
    g = torch.Generator(device="cuda").manual_seed(0)
    q, k, v = (torch.randn(b, seq, h, d, device="cuda", generator=g).bfloat16() for _ in range(3))
    k = k + torch.randn(d, device="cuda", generator=g).bfloat16()
    bq, bk = default_blocks(q.device)
    proj_w = torch.randn(d, d, device="cuda", generator=g) / d**0.5
    proj_b = torch.randn(d, device="cuda", generator=g) * 0.1
    summary = summarize_kv(k, v, state=True, stats=True)
    sel = select_blocks(q, k, bq, bk, topk, k_mean=summary.k_mean)
    lut32, nt = sel.lut.to(torch.int32).contiguous(), sel.lut.shape[-1]
    qi, qs = quantize_int8_triton(q, bq)
    ki, ks = quantize_int8_triton(k, bk, summary.k_mean, pad_rows=True)
    vs = v_scale_of_amax(summary.v_amax, 2.25)
    vq = quantize_v_fp8_triton(v, vs)
    lin = torch.empty_like(q)
    linear_branch_triton(q, *linear_operands(q, k, v, proj_w, proj_b, summary), 1e-5 / seq, lin)
    mq = triton.cdiv(seq, bq)
    rows = []
    for sparse in (True, False):
        o = torch.empty_like(q)
        tile = bk if sparse else 128
        args = (
            qi, qs, ki, ks, vq, vs, v, lut32, o,
            v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2),
            h, seq, vq.shape[-1], ki.shape[2], qs.shape[-1], ks.shape[-1], mq, nt if sparse else triton.cdiv(seq, tile),
            LOG2E / math.sqrt(d),
        )  # fmt: skip
        cx = dict(
            D=d, BLKQ=bq, BLKK=bk, BLOCK_N=tile, SPARSE=sparse, LINEAR=sparse, PV_FP8=True, EMULATE_FP8=False,
            PRECISION="tf32", WIDE=False,
        )  # fmt: skip
        if not sparse and name != "1.3b-480p":
            continue  # dense 14B-720p: 1.5 s a call, not needed here
        grid = lambda meta: (triton.cdiv(seq, meta["BLOCK_M"]), b * h)  # noqa: E731
        outs = {}
        for tag, tuned in (
            ("before", sage_kernel_before._sage_fwd_tuned),
            ("after", sage_kernel._sage_fwd_tuned),
        ):

            def run(tuned=tuned, sparse=sparse, o=o, grid=grid, args=args, cx=cx):
                if sparse:
                    o.copy_(lin)
                tuned[grid](*args, **cx)

            run()
            outs[tag] = o.clone()
            t = graph_ms(run, n=5 if not sparse else 20)
            copy_t = graph_ms(lambda o=o: o.copy_(lin)) if sparse else 0.0
            row = {"what": "sage_kernel", "shape": name, "sparse": sparse, "variant": tag, "ms": t - copy_t,
                   "config": str(tuned.best_config)}  # fmt: skip
            rows.append(row)
            print(row, flush=True)
        rows[-1]["rel_l2_after_vs_before"] = rel(outs["after"], outs["before"])
        print("rel after vs before", rows[-1]["rel_l2_after_vs_before"], flush=True)
    proj = torch.nn.Linear(d, d, device="cuda")
    t_total = graph_ms(lambda: sagesla_attention(q, k, v, proj, topk=topk))
    rows.append({"what": "sagesla_attention", "shape": name, "variant": "after", "ms": t_total})
    print(rows[-1], flush=True)

    # The passes over k and v: before (kv state, bf16 mean for the selection, fp32 mean, V amax) and after.
    def before():
        kv_state_triton(k, v)
        k.mean(dim=1)
        smoothing_mean(k)
        v_scale_reference(v, 2.25)

    t_before = graph_ms(before)
    rows.append({"what": "kv_passes", "shape": name, "variant": "before (4 passes)", "ms": t_before})
    print(rows[-1], flush=True)
    default = summarize_kv(k, v, state=True, stats=True)
    assert torch.equal(default.v_amax, v.float().abs().amax(dim=1))
    for bl in (64, 128):
        for w in (4, 8):
            for st in (2, 3):
                for per_sm in (2, 4, 8):
                    launch = KVSummaryLaunch(bl, w, st, per_sm)
                    try:
                        s = summarize_kv(k, v, state=True, stats=True, launch=launch)
                        t = graph_ms(
                            lambda launch=launch: summarize_kv(k, v, state=True, stats=True, launch=launch)
                        )
                        row = {"what": "kv_summary", "shape": name, **launch.__dict__, "ms": t,
                               "default": launch == KVSummaryLaunch(64, 4, 2, 4),  # the default of call 1
                               "kv_rel": rel(s.kv, default.kv), "kmean_rel": rel(s.k_mean, default.k_mean)}  # fmt: skip
                    except Exception as err:  # noqa: BLE001
                        row = {
                            "what": "kv_summary",
                            "shape": name,
                            **launch.__dict__,
                            "error": str(err)[:200],
                        }
                    rows.append(row)
                    print(row, flush=True)
    return rows


def norm_rows():
    rows = []
    for m, d in ((32760, 1536), (75600, 5120)):
        x = torch.randn(1, m, d, device="cuda").bfloat16()
        e0 = torch.randn(1, 6, d, device="cuda") * 0.1
        sc, sh = e0[:, 1:2], e0[:, 0:1]  # strided views, as WanBlock's chunks of the time projection
        block_d = triton.next_power_of_2(d)
        for quant in (False, True):
            y = torch.empty(1, m, d, device="cuda", dtype=torch.float8_e4m3fn if quant else torch.bfloat16)
            ys = torch.empty(m, device="cuda")
            x2 = x.view(m, d)
            args = (x2, sc, sh, x2, x2, y.view(m, d), ys if quant else y.view(m, d), m, m, d, d, d,
                    sc.stride(0), 0, sh.stride(0), 0, 1e-6)  # fmt: skip
            flags = dict(
                HAS_MOD=True, HAS_W=False, HAS_B=False, QUANT=quant, EMULATE_FP8=False, BLOCK_D=block_d
            )
            for cfg in ROW_CONFIGS:
                r, w = cfg.kwargs["BLOCK_R"], cfg.num_warps
                if r * block_d > 16384 or 4 * 32 * w > r * block_d:
                    continue
                t = graph_ms(
                    lambda r=r, w=w, m=m, args=args, flags=flags: norm_kernel._norm_modulate_kernel[
                        (triton.cdiv(m, r),)
                    ](*args, **flags, BLOCK_R=r, num_warps=w)
                )
                nbytes = m * d * (2 + (1 if quant else 2)) + (4 * m if quant else 0)
                row = {"what": "norm", "M": m, "D": d, "quant": quant, "block_r": r, "warps": w, "ms": t,
                       "gbps": nbytes / t / 1e6}  # fmt: skip
                rows.append(row)
                print(row, flush=True)
    return rows


def main() -> None:
    results = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    rows = []
    with torch.no_grad():
        rows += norm_rows()
        for name, shape in SHAPES.items():
            rows += sage_rows(name, shape)
            torch.cuda.empty_cache()
    results["rows"] = rows
    with open(sys.argv[1], "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
