"""Device experiment: the row quantiser (quant/row_quant) with whole rows in registers as equal-width tiles
(``ops.rms_norm.kernel.row_tiles``: 1,536 = 3 x 512, 5,120 = 5 x 1,024, 8,960 = 9 x 1,024 + 256 padded,
13,824 = 7 x 2,048), read once, against the tree's kernel (one padded tile, or two passes of 2,048 columns for
the FFN's 8,960-wide GELU rows). Codes and scales compared; CUDA graphs of 20 calls.

    PYTHONPATH=.:benchmarks:benchmarks/runs/gpu-2026-12-06/device_scripts \\
        python benchmarks/runs/gpu-2026-12-06/device_scripts/row_quant_tiles_eq.py OUT.json
"""

from __future__ import annotations

import json
import sys

import torch
import triton
import triton.language as tl
from e2e_stages import time_calls

from turbodiffusion.ops.rms_norm.kernel import row_tiles
from turbodiffusion.quant.row_quant.kernel import (
    _gelu_amax,
    fp8_row_codes,
    fp8_row_mult_scale,
    gelu_tanh,
    quantize_rows_triton,
)
from turbodiffusion.quant.row_quant.reference import GELU_NEGATIVE_BOUND

_AMAX_FLOOR = tl.constexpr(1e-8)  # act_quant.reference.AMAX_FLOOR


@triton.jit
def _row_quant_eq_kernel(
    x_ptr, q_ptr, s_ptr, R, C, stride_xr,
    GELU_BOUND: tl.constexpr, GELU: tl.constexpr, BLOCK_R: tl.constexpr, W: tl.constexpr, NT: tl.constexpr,
    PADDED: tl.constexpr,
):  # fmt: skip
    rows = tl.program_id(0) * BLOCK_R + tl.arange(0, BLOCK_R)
    rmask = rows < R
    rows64 = rows.to(tl.int64)
    load_rows64 = tl.minimum(rows, R - 1).to(tl.int64)
    xs = ()
    for t in tl.static_range(NT):
        cols = t * W + tl.arange(0, W)
        ptrs = x_ptr + load_rows64[:, None] * stride_xr + cols[None, :]
        if PADDED and t == NT - 1:
            x = tl.load(ptrs, mask=(cols < C)[None, :], other=float("-inf") if GELU else 0.0).to(tl.float32)
        else:
            x = tl.load(ptrs).to(tl.float32)
        xs = xs + (x,)
        if t == 0:
            lane_max = x if GELU else tl.abs(x)
        else:
            lane_max = tl.maximum(lane_max, x if GELU else tl.abs(x))
    if GELU:
        amax = _gelu_amax(tl.max(lane_max, axis=1), rmask, GELU_BOUND, False)
    else:
        amax = tl.maximum(tl.max(lane_max, axis=1), _AMAX_FLOOR)
    mult, scale = fp8_row_mult_scale(amax)
    for t in tl.static_range(NT):
        cols = t * W + tl.arange(0, W)
        v = gelu_tanh(xs[t], False) if GELU else xs[t]
        tl.store(
            q_ptr + rows64[:, None] * C + cols[None, :], fp8_row_codes(v, mult, False),
            mask=rmask[:, None] & (cols < C)[None, :],
        )  # fmt: skip
    tl.store(s_ptr + rows64, scale, mask=rmask)


def quantize_rows_eq(x, gelu, block_r, num_warps, max_tiles):
    rows, cols = x.shape
    width, tiles = row_tiles(cols, max_tiles)
    codes = torch.empty(rows, cols, dtype=torch.float8_e4m3fn, device=x.device)
    scale = torch.empty(rows, dtype=torch.float32, device=x.device)
    _row_quant_eq_kernel[(triton.cdiv(rows, block_r),)](
        x, codes, scale, rows, cols, x.stride(0), GELU_BOUND=GELU_NEGATIVE_BOUND, GELU=gelu, BLOCK_R=block_r,
        W=width, NT=tiles, PADDED=width * tiles > cols, num_warps=num_warps, enable_fp_fusion=False,
    )  # fmt: skip
    return codes, scale


def graph_ms(fn, device) -> float:
    fn()
    graph = torch.cuda.CUDAGraph()
    with torch.cuda.graph(graph):
        for _ in range(20):
            fn()
    times = [t / 20 for _ in range(3) for t in time_calls(graph.replay, 3, device)]
    del graph
    return sorted(times)[len(times) // 2]


CASES = [(32760, 1536, False), (32760, 8960, True), (75600, 5120, False), (75600, 13824, True)]
LAUNCHES = [(1, 4), (1, 8), (2, 4), (2, 8), (4, 8)]


def main(out_path: str) -> None:
    device = torch.device("cuda")
    rows = []
    for r, c, gelu in CASES:
        x = torch.randn(r, c, device=device).to(torch.bfloat16)
        ref_codes, ref_scale = quantize_rows_triton(x, gelu=gelu)
        base = graph_ms(lambda x=x, gelu=gelu: quantize_rows_triton(x, gelu=gelu), device)
        rows.append(dict(shape=[r, c], gelu=gelu, kernel="tree", ms=base, tb_per_s=r * c * 3 / base / 1e9))
        print(json.dumps(rows[-1]), flush=True)
        for max_tiles in (8, 16):
            for block_r, warps in LAUNCHES:
                if block_r * c > 32768:
                    continue
                row = dict(shape=[r, c], gelu=gelu, kernel="equal tiles", tiles=row_tiles(c, max_tiles))
                row.update(launch=[block_r, warps])
                try:
                    codes, scale = quantize_rows_eq(x, gelu, block_r, warps, max_tiles)
                    row["codes_equal"] = bool(torch.equal(codes.view(torch.int8), ref_codes.view(torch.int8)))
                    row["codes_max_diff"] = (codes.float() - ref_codes.float()).abs().max().item()
                    row["scales_equal"] = bool(torch.equal(scale, ref_scale))
                    ms = graph_ms(
                        lambda x=x, gelu=gelu, b=block_r, w=warps, m=max_tiles: quantize_rows_eq(x, gelu, b, w, m),
                        device,
                    )  # fmt: skip
                    row.update(ms=ms, speedup=base / ms, tb_per_s=r * c * 3 / ms / 1e9)
                except Exception as err:  # noqa: BLE001
                    row["error"] = str(err)[:300]
                rows.append(row)
                print(json.dumps(row), flush=True)
        with open(out_path, "w") as f:
            json.dump(rows, f, indent=1)
        del x
        torch.cuda.empty_cache()


if __name__ == "__main__":
    main(sys.argv[1])
