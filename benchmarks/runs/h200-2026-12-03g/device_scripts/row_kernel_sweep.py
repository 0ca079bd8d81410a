"""Device sweep (2026-12-03g, call 1): the RoPE norm rewritten in head chunks (two walks over each row)
against the kernel at 8fcf703 (whole padded rows), at 1.3B's 32,760 x 1,536 and 14B-720p's 75,600 x 5,120,
each launch timed in a CUDA graph of 20 calls (median of 5 replays); outputs against the fp32 reference
in bf16 steps. The fused norm + modulation kernels with rows as a head tile and a tail against the kernel at
8fcf703 (one padded tile), both autotuned as the model runs them. Then the K/V summary with the state in
two column halves (kv_column_split.py) against ``summarize_kv`` (same outputs expected up to the
accumulation order).

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03g/device_scripts \
        python benchmarks/runs/h200-2026-12-03g/device_scripts/row_kernel_sweep.py OUT.json
"""

import json
import sys

import kv_column_split as kc
import norm_modulate_at_8fcf703 as old_norm
import rope_at_8fcf703 as old
import torch
import triton

from turbodiffusion.attention.sla import kernel_fwd as kf
from turbodiffusion.ops.norm_modulate import kernel as nm
from turbodiffusion.ops.rms_norm_rope import kernel as rk
from turbodiffusion.ops.rms_norm_rope import rms_norm_rope_reference

SHAPES = ((32760, 1536), (75600, 5120))


def graph_ms(fn, calls: int = 20, reps: int = 5) -> float:
    fn()
    torch.cuda.synchronize()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(calls):
            fn()
    graph.replay()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        graph.replay()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / calls)
    del graph
    return sorted(times)[len(times) // 2]


def bf16_steps(out: torch.Tensor, truth: torch.Tensor) -> dict:
    """Largest |out - truth| in units of the bf16 step at |truth|, and the share of exactly rounded values."""
    t = truth.float()
    step = torch.finfo(torch.bfloat16).eps * torch.exp2(torch.floor(torch.log2(t.abs().clamp_min(1e-30))))
    err = (out.float() - t).abs() / step
    return {"max_steps": err.max().item(), "equal_to_rounded": (out == t.to(out.dtype)).float().mean().item()}


def rope_rows(seq: int, dim: int) -> list[dict]:
    heads = dim // 128
    g = torch.Generator(device="cuda").manual_seed(1)
    x = (torch.randn(seq, dim, device="cuda", generator=g) * 2 + 0.3).to(torch.bfloat16)
    w = torch.rand(dim, device="cuda", generator=g) + 0.5
    ang = torch.rand(seq, 64, device="cuda", generator=g) * 60
    cos, sin = ang.cos().contiguous(), ang.sin().contiguous()
    truth = rms_norm_rope_reference(x[None].float(), w, cos, sin, heads)[0]
    y = torch.empty(1, seq, heads, 128, device="cuda", dtype=torch.bfloat16)
    rows = []
    bd = triton.next_power_of_2(dim)
    for r, wp in [(1, 4), (2, 4), (2, 8), (1, 8)]:

        def run(r=r, wp=wp):
            old._rms_norm_rope_kernel[(triton.cdiv(seq, r),)](
                x, w, cos, sin, y, seq, seq, dim // 2, 64, x.stride(0), 1e-6, BLOCK_R=r, BLOCK_D=bd, num_warps=wp
            )  # fmt: skip

        row = {"seq": seq, "dim": dim, "kernel": "at_8fcf703", "launch": [r, wp], "ms": graph_ms(run)}
        row |= bf16_steps(y[0], truth)
        rows.append(row)
        print(row, flush=True)
    default = rk.rms_norm_rope_launch(heads, 128)
    for r in (1, 2, 4, 8, 16):
        for bh in (1, 2, 4, 8):
            for wp in (2, 4, 8):
                if heads % bh or r * bh * 128 > 8192 or r * bh * 128 < 64 * wp:
                    continue

                def run(r=r, bh=bh, wp=wp):
                    rk._rms_norm_rope_kernel[(triton.cdiv(seq, r),)](
                        x, w, cos, sin, y, seq, seq, heads, x.stride(0), 1e-6,
                        HALF_HEAD=64, BLOCK_R=r, BLOCK_H=bh, BLOCK_P=64, num_warps=wp,
                    )  # fmt: skip

                row = {"seq": seq, "dim": dim, "kernel": "chunks", "launch": [r, bh, wp]}
                row["default"] = (r, bh, wp) == (default.block_r, default.block_h, default.num_warps)
                row["ms"] = graph_ms(run)
                row |= bf16_steps(y[0], truth)
                row["gbps"] = seq * dim * 4 / row["ms"] / 1e6
                rows.append(row)
                print(row, flush=True)
    return rows


def norm_rows(seq: int, dim: int) -> list[dict]:
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(1, seq, dim, device="cuda", generator=g).to(torch.bfloat16)
    y = torch.randn(1, seq, dim, device="cuda", generator=g).to(torch.bfloat16)
    gate, scale, shift = (torch.randn(1, 1, dim, device="cuda", generator=g) * 0.1 for _ in range(3))
    w, b = torch.rand(dim, device="cuda") + 0.5, torch.randn(dim, device="cuda") * 0.1
    rows = []
    for name, bytes_per in [("norm1 (residual, gate, modulation)", 7), ("norm3 (residual, gate, affine)", 7),
                            ("norm2 (residual, modulation)", 7), ("first norm1 (modulation)", 3)]:  # fmt: skip
        times, codes = {}, {}
        for arm, mod in (("at_8fcf703", old_norm), ("tiles", nm)):

            def fn(mod=mod, name=name):
                if name.startswith("norm1"):
                    return mod.residual_norm_modulate_triton(x, y, gate, scale, shift, quantize=True)
                if name.startswith("norm3"):
                    return mod.residual_norm_modulate_triton(x, y, gate, weight=w, bias=b, quantize=True)
                if name.startswith("norm2"):
                    return mod.residual_norm_modulate_triton(x, y, None, scale, shift, quantize=True)
                return None, mod.norm_modulate_fp8_triton(x, scale, shift)

            codes[arm] = fn()[1].codes.view(torch.int8).clone()
            times[arm] = graph_ms(fn)
        row = {"seq": seq, "dim": dim, "variant": name, "ms": times}
        row["speedup"] = times["at_8fcf703"] / times["tiles"]
        row["gbps_tiles"] = seq * dim * bytes_per / times["tiles"] / 1e6
        row["codes_equal_share"] = (codes["tiles"] == codes["at_8fcf703"]).float().mean().item()
        row["tuned"] = str(nm._norm_modulate_tuned.best_config)
        rows.append(row)
        print(row, flush=True)
    return rows


def kv_rows(seq: int, dim: int) -> list[dict]:
    heads = dim // 128
    g = torch.Generator(device="cuda").manual_seed(2)
    k = torch.randn(1, seq, heads, 128, device="cuda", generator=g).to(torch.bfloat16)
    v = torch.randn(1, seq, heads, 128, device="cuda", generator=g).to(torch.bfloat16)
    wt = torch.randn(128, 128, device="cuda", generator=g) * 0.05
    ref = kf.summarize_kv(k, v, state=True, stats=True, weight=wt)
    rows = [{"seq": seq, "variant": "summarize_kv", "ms": graph_ms(lambda: kf.summarize_kv(
        k, v, state=True, stats=True, weight=wt))}]  # fmt: skip
    print(rows[-1], flush=True)
    for bl, wp, st, per_sm in [(64, 4, 2, 4), (64, 4, 2, 8), (64, 8, 2, 4), (128, 8, 2, 4), (64, 4, 3, 4)]:
        row = {"seq": seq, "variant": "column halves", "launch": [bl, wp, st, per_sm]}
        try:

            def fn(bl=bl, wp=wp, st=st, per_sm=per_sm):
                return kc.summarize_kv_halves(k, v, wt, bl, wp, st, per_sm)

            out = fn()
            row["ms"] = graph_ms(fn)
            for name in ("kv", "ksum", "k_mean", "v_amax", "m"):
                a, b = getattr(out, name).float(), getattr(ref, name).float()
                row[f"{name}_rel"] = ((a - b).norm() / b.norm()).item()
        except Exception as err:  # noqa: BLE001
            row["error"] = str(err)[:300]
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> None:
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}
    out["rope"] = [row for seq, dim in SHAPES for row in rope_rows(seq, dim)]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)
    out["norm_modulate"] = [row for seq, dim in SHAPES for row in norm_rows(seq, dim)]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)
    out["kv_summary"] = [row for seq, dim in SHAPES for row in kv_rows(seq, dim)]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
