"""Device sweep (2026-12-03, call 2): the sparse Sage kernel with FOLD (sage_kernel_variants.py) and with a
register cap that lets three programs share a multiprocessor, at SageSLA's sm90 blocks (64, 128), top-k 0.1.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03/device_scripts python .../sage_variants_sweep.py OUT.json
"""

from __future__ import annotations

import json
import math
import sys

import torch
import triton
from sage_blocks_sweep import SHAPES, graph_ms, local_inputs, rel
from sage_kernel_variants import _sage_fwd_kernel

from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, linear_branch_triton, linear_operands, summarize_kv

# (FOLD, warps, stages, maxnreg)
VARIANTS = ((False, 4, 3, None), (True, 4, 3, None), (False, 4, 2, None), (True, 4, 2, None),
            (False, 4, 2, 168), (True, 4, 2, 168), (True, 4, 2, 160))  # fmt: skip


def main() -> None:
    out = sys.argv[1]
    results = {"device": torch.cuda.get_device_name(), "triton": triton.__version__, "rows": []}
    bq, bk = 64, 128
    for name, (shape, grid_shape) in SHAPES.items():
        g = torch.Generator(device="cuda").manual_seed(0)
        q, k, v = local_inputs(shape, grid_shape, g)
        b, seq, h, d = shape
        proj = torch.nn.Linear(d, d, device="cuda")
        summary = summarize_kv(k, v, state=True, stats=True)
        qi, qs = quantize_int8_triton(q, bq)
        ki, ks = quantize_int8_triton(k, bk, summary.k_mean, pad_rows=True)
        vq, vs = quantize_v_fp8_triton(v, summary.v_amax, 2.25)
        lin = torch.empty_like(q)
        linear_branch_triton(q, *linear_operands(q, k, v, proj.weight, proj.bias, summary), 1e-5 / seq, lin)
        lut = select_blocks(q, k, bq, bk, 0.1, k_mean=summary.k_mean).lut
        lut32, nt = lut.to(torch.int32).contiguous(), lut.shape[-1]
        o = torch.empty_like(q)
        args = (
            qi, qs, ki, ks, vq, vs, v, lut32, o,
            v.stride(0), v.stride(1), v.stride(2), o.stride(0), o.stride(1), o.stride(2),
            h, seq, vq.shape[-1], ki.shape[2], qs.shape[-1], ks.shape[-1], triton.cdiv(seq, bq), nt,
            LOG2E / math.sqrt(d),
        )  # fmt: skip
        cx = dict(D=d, BLKQ=bq, BLKK=bk, BLOCK_N=bk, SPARSE=True, LINEAR=True, PV_FP8=True, EMULATE_FP8=False,
                  PRECISION="tf32", WIDE=False, BLOCK_M=64)  # fmt: skip
        grid = (triton.cdiv(seq, 64), b * h)
        copy_ms = graph_ms(lambda o=o, lin=lin: o.copy_(lin))
        base = None
        for fold, warps, stages, maxnreg in VARIANTS:
            extra = {} if maxnreg is None else {"maxnreg": maxnreg}

            def run(
                fold=fold, warps=warps, stages=stages, extra=extra, o=o, lin=lin, args=args, cx=cx, grid=grid
            ):
                o.copy_(lin)
                _sage_fwd_kernel[grid](*args, **cx, FOLD=fold, num_warps=warps, num_stages=stages, **extra)

            try:
                run()
                out_v = o.clone()
                base = out_v if base is None else base
                ms = graph_ms(run) - copy_ms
                row = {"shape": name, "fold": fold, "warps": warps, "stages": stages, "maxnreg": maxnreg, "ms": ms,
                       "rel_vs_first": rel(out_v, base)}  # fmt: skip
            except Exception as err:  # noqa: BLE001
                row = {"shape": name, "fold": fold, "warps": warps, "stages": stages, "maxnreg": maxnreg,
                       "error": str(err)[:300]}  # fmt: skip
            results["rows"].append(row)
            print(row, flush=True)
            with open(out, "w") as fh:
                json.dump(results, fh, indent=1)


if __name__ == "__main__":
    main()
