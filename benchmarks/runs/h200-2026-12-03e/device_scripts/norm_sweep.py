"""Device sweep (2026-12-03e, call 4): launch settings of the FFN's GELU row quantiser and of the fused norm
kernels' residual variants, against what the defaults (row quantiser) and Triton's autotuner (norms) pick.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03e/device_scripts \
        python benchmarks/runs/h200-2026-12-03e/device_scripts/norm_sweep.py OUT.json [--row-quant-only]

Times: median over 7 of the mean of 10 back-to-back calls. Every setting's output must equal the default's
(row quantiser) or stay within the rounding of its reduction order (norms: the max |difference| is given).
"""

from __future__ import annotations

import json
import sys

import torch
import triton

from turbodiffusion.ops.norm_modulate import kernel as nm
from turbodiffusion.ops.norm_modulate import norm_modulate_fp8, residual_norm_modulate
from turbodiffusion.quant.row_quant.kernel import RowQuantLaunch, quantize_rows_triton, row_quant_launch


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


def row_quant_rows() -> list[dict]:
    """The FFN's GELU quantiser at 32760 x 8960: the kernel before this session's change (its default,
    ``row_quant_before.py``) against the new one's schedules (two passes; one read as head + tail)."""
    import row_quant_before as before

    rows = []
    m, c = 32760, 8960
    x = torch.randn(m, c, device="cuda").to(torch.bfloat16)
    q0, s0 = before.quantize_rows_triton(x, True, launch=before.row_quant_launch(c))
    nbytes = m * c * 3 + 4 * m
    row = {"M": m, "C": c, "kernel": "before", **before.row_quant_launch(c).__dict__}
    row["ms"] = ms(lambda: before.quantize_rows_triton(x, True))
    row["gbps"] = nbytes / row["ms"] / 1e6
    rows.append(row)
    print(row, flush=True)
    grid = [RowQuantLaunch(r, bc, w) for r, bc, w in ((4, 1024, 8), (1, 1024, 4), (1, 1024, 8), (2, 1024, 4))]
    grid += [RowQuantLaunch(r, bc, w) for r, bc, w in ((2, 1024, 8), (1, 2048, 4), (1, 2048, 8), (1, 512, 4))]
    # Call 6 also timed a one-read schedule (8,192 + 1,024 lanes, RowQuantLaunch's tail_c, removed after it
    # lost): RowQuantLaunch(r, 8192, w, 1024) for (r, w) in (1, 2), (1, 4), (1, 8), (2, 4), (2, 8).
    for launch in grid:
        row = {"M": m, "C": c, "kernel": "after", **launch.__dict__, "default": launch == row_quant_launch(c)}
        q, s = quantize_rows_triton(x, True, launch=launch)
        diff = (q.float() - q0.float()).abs()
        row["codes_equal_share"] = (q.view(torch.int8) == q0.view(torch.int8)).float().mean().item()
        row["scales_equal"] = bool(torch.equal(s, s0))
        row["max_code_diff"] = diff.max().item()
        row["ms"] = ms(lambda lc=launch: quantize_rows_triton(x, True, launch=lc))
        row["gbps"] = nbytes / row["ms"] / 1e6
        rows.append(row)
        print(row, flush=True)
    return rows


class FixedLaunch:
    """Stands in for the autotuned kernel with one config."""

    def __init__(self, block_r: int, num_warps: int):
        self.block_r, self.num_warps = block_r, num_warps

    def __getitem__(self, grid):
        def launch(*args, **kwargs):
            g = grid({"BLOCK_R": self.block_r})
            nm._norm_modulate_kernel[g](*args, **kwargs, BLOCK_R=self.block_r, num_warps=self.num_warps)

        return launch


def norm_shape_rows(seq: int, dim: int) -> list[dict]:
    rows = []
    tuned = nm._norm_modulate_tuned
    g = torch.Generator(device="cuda").manual_seed(0)
    x = torch.randn(1, seq, dim, device="cuda", generator=g).to(torch.bfloat16)
    y = torch.randn(1, seq, dim, device="cuda", generator=g).to(torch.bfloat16)
    gate, scale, shift = (torch.randn(1, 1, dim, device="cuda", generator=g) * 0.1 for _ in range(3))
    w, b = torch.rand(dim, device="cuda") + 0.5, torch.randn(dim, device="cuda") * 0.1
    variants = {
        "norm1 (residual, gate, modulation)": lambda: (
            residual_norm_modulate(x, y, gate, scale, shift, quantize=True)[1].codes
        ),
        "norm3 (residual, gate, affine)": lambda: (
            residual_norm_modulate(x, y, gate, weight=w, bias=b, quantize=True)[1].codes
        ),
        "norm2 (residual, modulation)": lambda: (
            residual_norm_modulate(x, y, None, scale, shift, quantize=True)[1].codes
        ),
        "first norm1 (modulation)": lambda: norm_modulate_fp8(x, scale, shift).codes,
    }
    block_d = triton.next_power_of_2(dim)
    configs = [(r, wp) for r in (1, 2, 4, 8) for wp in (2, 4, 8, 16)]
    configs = [(r, wp) for r, wp in configs if 4 * 32 * wp <= r * block_d <= 16384]
    for name, fn in variants.items():
        nm._norm_modulate_tuned = tuned
        ref = fn().view(torch.int8).float()
        auto_ms = ms(fn)
        for r, wp in configs:
            nm._norm_modulate_tuned = FixedLaunch(r, wp)
            try:
                out = fn().view(torch.int8).float()
                row = {
                    "seq": seq, "dim": dim, "variant": name, "block_r": r, "num_warps": wp,
                    "ms": ms(fn), "autotuned_ms": auto_ms, "codes_equal_share": (out == ref).float().mean().item(),
                }  # fmt: skip
            except Exception as err:  # noqa: BLE001
                row = {"variant": name, "block_r": r, "num_warps": wp, "error": str(err)[:200]}
            rows.append(row)
            print(row, flush=True)
        nm._norm_modulate_tuned = tuned
    return rows


def main() -> None:
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}
    out["row_quant_ffn"] = row_quant_rows()
    if "--row-quant-only" not in sys.argv:
        out["norm_modulate"] = norm_shape_rows(32760, 1536) + norm_shape_rows(75600, 5120)
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
