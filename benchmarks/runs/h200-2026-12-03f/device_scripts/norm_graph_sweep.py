"""Device sweep (2026-12-03f): launch settings of the fused norm kernels (the three residual variants and the
first block's plain one) and of the RoPE norm, timed inside CUDA graphs as the model runs them.

    PYTHONPATH=. python benchmarks/runs/h200-2026-12-03f/device_scripts/norm_graph_sweep.py OUT.json

03e's sweep timed back-to-back eager calls: at 1.3B's 32,760 x 1,536 a call's host work (wrappers, custom op,
allocations, launch) is about as long as the kernel, so those times, and Triton's autotuner's own
measurements, carried host overheads. Here each setting is a graph of 20 calls; time: median over 5 replays
per call. Every setting's codes must equal the autotuned launch's (the max share equal is given).
"""

from __future__ import annotations

import json
import sys

import torch
import triton

from turbodiffusion.ops.norm_modulate import kernel as nm
from turbodiffusion.ops.norm_modulate import norm_modulate_fp8, residual_norm_modulate
from turbodiffusion.ops.rms_norm_rope import kernel as rk

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


class FixedLaunch:
    """Stands in for the autotuned norm kernel with one config."""

    def __init__(self, block_r: int, num_warps: int):
        self.block_r, self.num_warps = block_r, num_warps

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            g = grid({"BLOCK_R": self.block_r})
            nm._norm_modulate_kernel[g](*args, **kwargs, BLOCK_R=self.block_r, num_warps=self.num_warps)

        return launch


def configs(dim: int) -> list[tuple[int, int]]:
    block_d = triton.next_power_of_2(dim)
    grid = [(r, w) for r in (1, 2, 4) for w in (2, 4, 8, 16)]
    return [(r, w) for r, w in grid if 4 * 32 * w <= r * block_d <= 16384]


def norm_rows(seq: int, dim: int) -> list[dict]:
    rows = []
    tuned = nm._norm_modulate_tuned
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(1, seq, dim, device="cuda", generator=g).to(torch.bfloat16)
    y = torch.randn(1, seq, dim, device="cuda", generator=g).to(torch.bfloat16)
    gate, scale, shift = (torch.randn(1, 1, dim, device="cuda", generator=g) * 0.1 for _ in range(3))
    w, b = torch.rand(dim, device="cuda") + 0.5, torch.randn(dim, device="cuda") * 0.1
    variants = {  # name: (function, bytes an element)
        "norm1 (residual, gate, modulation)": (
            lambda: residual_norm_modulate(x, y, gate, scale, shift, quantize=True)[1].codes,
            7,
        ),
        "norm3 (residual, gate, affine)": (
            lambda: residual_norm_modulate(x, y, gate, weight=w, bias=b, quantize=True)[1].codes,
            7,
        ),
        "norm2 (residual, modulation)": (
            lambda: residual_norm_modulate(x, y, None, scale, shift, quantize=True)[1].codes,
            7,
        ),
        "first norm1 (modulation)": (lambda: norm_modulate_fp8(x, scale, shift).codes, 3),
    }
    for name, (fn, nbytes) in variants.items():
        nm._norm_modulate_tuned = tuned
        ref = fn().view(torch.int8).clone()
        base = {"seq": seq, "dim": dim, "variant": name}
        row = {**base, "launch": "autotuned", "choice": str(tuned.best_config), "ms": graph_ms(fn)}
        row["gbps"] = seq * dim * nbytes / row["ms"] / 1e6
        rows.append(row)
        print(row, flush=True)
        for r, wp in configs(dim):
            nm._norm_modulate_tuned = FixedLaunch(r, wp)
            try:
                out = fn().view(torch.int8)
                row = {**base, "launch": [r, wp], "ms": graph_ms(fn)}
                row["gbps"] = seq * dim * nbytes / row["ms"] / 1e6
                row["codes_equal_share"] = (out == ref).float().mean().item()
            except Exception as err:  # noqa: BLE001
                row = {**base, "launch": [r, wp], "error": str(err)[:200]}
            rows.append(row)
            print(row, flush=True)
        nm._norm_modulate_tuned = tuned
    return rows


def rope_rows(seq: int, dim: int) -> list[dict]:
    heads = dim // 128
    x = torch.randn(seq, dim, device="cuda").to(torch.bfloat16)
    w = torch.rand(dim, device="cuda") + 0.5
    ang = torch.rand(seq, 64, device="cuda") * 6
    cos, sin = ang.cos().contiguous(), ang.sin().contiguous()
    y = torch.empty(1, seq, heads, 128, device="cuda", dtype=torch.bfloat16)
    block_d = triton.next_power_of_2(dim)
    default = rk.rms_norm_rope_launch(dim)
    rk._rms_norm_rope_op(x, w, cos, sin, y, seq, heads, 1e-6)
    ref = y.clone()
    rows = []
    for r, wp in configs(dim):

        def run(r=r, wp=wp):
            rk._rms_norm_rope_kernel[(triton.cdiv(seq, r),)](
                x, w, cos, sin, y, seq, seq, dim // 2, 64, x.stride(0), 1e-6,
                BLOCK_R=r, BLOCK_D=block_d, num_warps=wp,
            )  # fmt: skip

        row = {"seq": seq, "dim": dim, "launch": [r, wp], "default": (r, wp) == (default[0], default[2])}
        row["ms"] = graph_ms(run)
        row["gbps"] = seq * dim * 4 / row["ms"] / 1e6
        row["equal"] = bool(torch.equal(y, ref))
        rows.append(row)
        print(row, flush=True)
    return rows


def main() -> None:
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}
    out["norm_modulate"] = [row for seq, dim in SHAPES for row in norm_rows(seq, dim)]
    out["rms_norm_rope"] = [row for seq, dim in SHAPES for row in rope_rows(seq, dim)]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
