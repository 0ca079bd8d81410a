"""Fused norm kernels (and the q/k RMSNorm + RoPE) vs eager PyTorch and torch.compile at the Wan shapes.

Ops (bf16 in, bf16 out, fp32 inside): LayerNorm + modulation (norm1/norm2, scale/shift [B, 1, dim] fp32),
RMSNorm over the full width (the q/k norms), the q/k RMSNorm + per-head RoPE as one kernel (the eager form:
RMSNorm, then the model's fp32 apply_rope), and the gated residual add x + y * gate. For each: ours
(Triton), the eager PyTorch form the model code would run (the official modules' way: up-cast, norm,
down-cast, modulate), and torch.compile of our reference. Bytes = every tensor read once + the output
written once; GB/s and the fraction of the copy bandwidth measured in the same run; "x floor" = time over
the copy-bandwidth floor for those bytes (issue target: norm + modulate within 1.5x). Each implementation
is checked against the fp32 reference by the error-ratio rule before it is timed.

    PYTHONPATH=. python benchmarks/norm.py --json results/norm.json      # GPU
    PYTHONPATH=. python benchmarks/norm.py --quick                       # CPU smoke (interpreter), checks only
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch
import torch.nn.functional as F
from common import environment, measure_ceilings, print_table, time_ms, write_json

# name -> (tokens M = B·L with B = 1, dim); M from models.md §8.
SHAPES = {"wan-1.3b": (32760, 1536), "wan-14b-720p": (75600, 5120)}
QUICK_SHAPES = {"quick": (333, 1536)}
EPS = 1e-6


def eager_norm_modulate(x, scale, shift):
    # The official pattern: LayerNorm in fp32 and back to bf16, then modulation in fp32, then bf16 again.
    h = F.layer_norm(x.float(), (x.shape[-1],), eps=EPS).type_as(x)
    return (h.float() * (1 + scale) + shift).type_as(x)


def eager_rms_norm(x, w):
    xf = x.float()
    return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + EPS)).type_as(x) * w.type_as(x)


def eager_gated_residual(x, y, gate):
    return x + y * gate.to(x.dtype)


def make_cases(m: int, dim: int, device: str):
    from turbodiffusion.models.wan.rope import apply_rope
    from turbodiffusion.ops.gated_residual import gated_residual, gated_residual_reference
    from turbodiffusion.ops.norm_modulate import norm_modulate, norm_modulate_reference
    from turbodiffusion.ops.rms_norm import rms_norm, rms_norm_reference
    from turbodiffusion.ops.rms_norm_rope import rms_norm_rope, rms_norm_rope_reference

    g = torch.Generator(device=device).manual_seed(m + dim)
    x = (torch.randn(1, m, dim, device=device, generator=g) + 0.5).to(torch.bfloat16)
    y = torch.randn(1, m, dim, device=device, generator=g).to(torch.bfloat16)
    scale = 0.2 * torch.randn(1, 1, dim, device=device, generator=g)
    shift = 0.2 * torch.randn(1, 1, dim, device=device, generator=g)
    w = 1 + 0.1 * torch.randn(dim, device=device, generator=g)
    heads = dim // 128  # Wan's head_dim; 12 heads at 1.3B, 40 at 14B
    angles = torch.rand(m, 64, device=device, generator=g, dtype=torch.float64) * 60.0
    cos, sin = angles.cos().float(), angles.sin().float()
    n = m * dim
    return {
        "norm_modulate": dict(
            ours=lambda: norm_modulate(x, scale, shift, impl="triton"),
            eager=lambda: eager_norm_modulate(x, scale, shift),
            ref=norm_modulate_reference,
            args=(x, scale, shift),
            truth=lambda: norm_modulate_reference(x.float(), scale, shift),
            nbytes=4 * n,  # x read + y written, bf16; scale/shift rows are negligible
        ),
        "rms_norm": dict(
            ours=lambda: rms_norm(x, w, EPS, impl="triton"),
            eager=lambda: eager_rms_norm(x, w),
            ref=rms_norm_reference,
            args=(x, w),
            truth=lambda: rms_norm_reference(x.float(), w),
            nbytes=4 * n,
        ),
        "rms_norm_rope": dict(
            ours=lambda: rms_norm_rope(x, w, cos, sin, heads, EPS, impl="triton"),
            eager=lambda: apply_rope(eager_rms_norm(x, w).unflatten(-1, (heads, -1)), cos, sin),
            ref=rms_norm_rope_reference,
            args=(x, w, cos, sin, heads, EPS),
            truth=lambda: rms_norm_rope_reference(x.float(), w, cos, sin, heads, EPS),
            nbytes=4 * n,  # x read + out written; the cos/sin rows are shared by every head
        ),
        "gated_residual": dict(
            ours=lambda: gated_residual(x, y, scale, impl="triton"),
            eager=lambda: eager_gated_residual(x, y, scale),
            ref=gated_residual_reference,
            args=(x, y, scale),
            truth=lambda: gated_residual_reference(x.float(), y.float(), scale),
            nbytes=6 * n,  # x and y read, out written
        ),
    }


def main() -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--shapes", default=",".join(SHAPES), help=f"comma-separated, from {', '.join(SHAPES)}"
    )
    parser.add_argument("--quick", action="store_true", help="CPU smoke run: small shape, checks, no timing")
    parser.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    parser.add_argument("--rounds", type=int, default=2, help="timing rounds, alternating implementations")
    parser.add_argument("--json", default=None, help="write rows and the environment block here")
    args = parser.parse_args()

    cuda = torch.cuda.is_available() and not args.quick
    if not cuda:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported
        print("CPU run: kernels interpreted, correctness checks only (no timings)", file=sys.stderr)
    from turbodiffusion.testing import tolerances
    from turbodiffusion.testing.compare import max_rel

    device = "cuda" if cuda else "cpu"
    shapes = QUICK_SHAPES if args.quick else {s: SHAPES[s] for s in args.shapes.split(",")}
    ceilings = measure_ceilings(device) if cuda else {}
    if ceilings:
        print("ceilings: " + ", ".join(f"{k}={v:.4g}" for k, v in ceilings.items()))
    rows: list[dict] = []
    failed = []
    for shape, (m, dim) in shapes.items():
        for op, case in make_cases(m, dim, device).items():
            impls = {"eager (official style)": case["eager"], "ours (triton)": case["ours"]}  # baseline first
            if cuda and not args.no_compile:
                compiled = torch.compile(case["ref"], dynamic=False)
                impls["torch.compile(reference)"] = lambda c=compiled, a=case["args"]: c(*a)
            # Errors on a row sample (the first 4096 tokens and the last 1000): the float64 metrics run on
            # the host, and whole 14B-720p activations would take longer than the timings themselves.
            idx = torch.cat([torch.arange(min(4096, m)), torch.arange(min(m, max(4096, m - 1000)), m)]).to(
                device
            )
            truth = case["truth"]()[:, idx]
            eager_err = max_rel(case["eager"]()[:, idx], truth)
            bound = tolerances.lowp_bound(torch.bfloat16, eager_err)
            first, times = {}, {}
            for label, fn in impls.items():
                t0 = time.perf_counter()
                err = max_rel(fn()[:, idx], truth)  # first call: compiles (and autotunes); output checked
                if cuda:
                    torch.cuda.synchronize()
                first[label] = (time.perf_counter() - t0, err)
            if cuda:
                for _ in range(args.rounds):
                    for label, fn in impls.items():
                        times.setdefault(label, []).append(time_ms(fn))
            base = None
            for label in impls:
                err = first[label][1]
                row = {"shape": shape, "op": op, "M": m, "dim": dim, "impl": label, "max_rel": err,
                       "check": "ok" if err <= bound else "FAIL", "first_call_s": first[label][0]}  # fmt: skip
                if label == "ours (triton)" and row["check"] == "FAIL":
                    failed.append((shape, op))
                if label in times:
                    p50 = sorted(t[0] for t in times[label])[len(times[label]) // 2]
                    row.update(ms_p50=p50, ms_p20=times[label][-1][1], ms_p80=times[label][-1][2])
                    row["p50_rounds"] = [t[0] for t in times[label]]
                    row["GB/s"] = case["nbytes"] / p50 / 1e6
                    row["%copy"] = 100 * row["GB/s"] / ceilings["copy_gbps"]
                    row["x floor"] = ceilings["copy_gbps"] / row["GB/s"]
                    if label.startswith("eager"):
                        base = p50
                    row["speedup_vs_eager"] = base / p50 if base else None
                rows.append(row)
        print_table([r for r in rows if r["shape"] == shape],
                    ["shape", "op", "impl", "ms_p50", "ms_p20", "ms_p80", "GB/s", "%copy", "x floor",
                     "speedup_vs_eager", "max_rel", "check", "first_call_s"])  # fmt: skip
        print(flush=True)
        if args.json:  # after every shape, so a run cut short still leaves its numbers
            write_json(args.json, {"environment": environment(), "ceilings": ceilings, "rows": rows})
    if args.json:
        write_json(args.json, {"environment": environment(), "ceilings": ceilings, "rows": rows})
    if failed:
        print(f"FAILED checks: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
