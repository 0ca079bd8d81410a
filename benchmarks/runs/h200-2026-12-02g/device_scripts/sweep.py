"""Device sweep (exploratory, one call): where SageSLA's linear branch is computed, and the KV-state launch.

Every variant is checked against the production path on the same inputs before it is timed.
    PYTHONPATH=. python benchmarks/runs/h200-2026-12-02g/device_scripts/sweep.py OUT.json
"""

from __future__ import annotations

import json
import sys
import traceback

import torch
import triton

from turbodiffusion.attention.sage.kernel import sage_forward_triton
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import (
    _sla_kv_state_kernel,
    dot_precision,
    kv_state_triton,
    linear_branch_triton,
)

SHAPES = (("1.3b-480p", 32760, 12), ("14b-720p", 75600, 40))
MODES = {1: "linear first, parked in O", 2: "linear after the loop", 3: "linear as its own kernel"}


def time_ms(fn, reps=20):
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


def kv_state_variant(k, v, block_l, warps, stages, waves):
    b, seq, h, d = k.shape
    target = waves * torch.cuda.get_device_properties(k.device).multi_processor_count
    splits = max(1, min(triton.cdiv(seq, block_l), triton.cdiv(target, b * h)))
    rows = triton.cdiv(triton.cdiv(seq, splits), block_l) * block_l
    splits = triton.cdiv(seq, rows)
    kv = torch.empty((b * h, splits, d, d), device=k.device, dtype=torch.float32)
    ksum = torch.empty((b * h, splits, d), device=k.device, dtype=torch.float32)
    _sla_kv_state_kernel[(splits, b * h)](
        k, v, kv, ksum,
        k.stride(0), k.stride(1), k.stride(2), v.stride(0), v.stride(1), v.stride(2),
        h, seq, rows, splits,
        D=d, BLOCK_L=block_l, PRECISION=dot_precision(k.dtype), WIDE=False,
        num_warps=warps, num_stages=stages,
    )  # fmt: skip
    return (kv.sum(1) / seq).view(b, h, d, d), (ksum.sum(1) / seq).view(b, h, d)


def one_shape(name, seq, h):
    g = torch.Generator(device="cuda").manual_seed(1)
    q, k, v = (
        torch.randn(1, seq, h, 128, device="cuda", dtype=torch.bfloat16, generator=g) for _ in range(3)
    )
    w = torch.randn(128, 128, device="cuda", dtype=torch.bfloat16, generator=g) * 0.05
    bias = torch.randn(128, device="cuda", dtype=torch.bfloat16, generator=g) * 0.05
    lut = select_blocks(q, k, 64, 128, 0.1).lut
    rows = []

    def sage(mode, proj=True):
        return sage_forward_triton(
            q, k, v, block_q=64, block_k=128, pv="fp8", v_range=2.25, lut=lut,
            proj=(w, bias) if proj else None, eps=1e-5, linear_mode=mode,
        )  # fmt: skip

    ref = sage(1)
    rows.append({"part": "sagesla without the linear branch", "ms": time_ms(lambda: sage(1, proj=False))})
    for mode, label in MODES.items():
        row = {"part": f"sagesla, {label}", "mode": mode}
        try:
            out = sage(mode)
            row["max_abs_diff_to_mode1"] = (out.float() - ref.float()).abs().max().item()
            row["ms"] = time_ms(lambda mode=mode: sage(mode))
        except Exception as e:  # noqa: BLE001
            row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
        rows.append(row)
    kv, ksum = kv_state_triton(k, v)
    rows.append({"part": "kv_state production", "ms": time_ms(lambda: kv_state_triton(k, v))})
    kvb, wt, b32 = kv.to(q.dtype).contiguous(), w.t().contiguous(), bias.float()
    o = torch.empty_like(q)
    rows.append(
        {
            "part": "linear branch kernel alone",
            "ms": time_ms(lambda: linear_branch_triton(q, kvb, ksum, wt, b32, 1e-5 / seq, o)),
        }
    )
    for block_l in (64, 128):
        for warps, stages in ((4, 2), (4, 3), (8, 2), (8, 3)):
            for waves in (1, 2, 4, 8):
                row = {"part": f"kv_state BLOCK_L={block_l} w{warps} s{stages} waves={waves}"}
                try:
                    kv2, ks2 = kv_state_variant(k, v, block_l, warps, stages, waves)
                    row["max_rel_diff"] = ((kv2 - kv).abs().max() / kv.abs().max()).item()
                    cfg = (block_l, warps, stages, waves)
                    row["ms"] = time_ms(lambda cfg=cfg: kv_state_variant(k, v, *cfg))
                except Exception as e:  # noqa: BLE001
                    row["error"] = f"{type(e).__name__}: {str(e)[:300]}"
                rows.append(row)
    for row in rows:
        print(name, row, flush=True)
    return rows


def main():
    out = sys.argv[1]
    results = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    for name, seq, h in SHAPES:
        try:
            results[name] = one_shape(name, seq, h)
        except Exception:  # noqa: BLE001
            results[name] = {"error": traceback.format_exc()[-2000:]}
            print(results[name]["error"], flush=True)
        torch.cuda.empty_cache()
        with open(out, "w") as f:
            json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
