"""The ping-pong Sage kernel (``sage_pingpong.py``) against ``kernel_wgmma``: outputs (bit for bit expected:
per warpgroup the arithmetic is the same) on ragged and real shapes, with and without SageSLA's linear
branch, then a layer's time: CUDA graphs of 20 calls in a burst, and ~2 s sustained with the SM clock and
power sampled (``sage_clock_probe.sustained``), the two kernels alternated.

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts \
        python benchmarks/runs/h200-2026-12-04/device_scripts/pingpong_bench.py OUT.json
"""

import json
import sys

import sage_pingpong as pp
import torch
from graph_timing import time_ms
from sage_clock_probe import sustained

from turbodiffusion.attention.sage import kernel as sage_kernel
from turbodiffusion.attention.sage import kernel_wgmma as kw
from turbodiffusion.attention.sla.block_map import topk_count


def case(b, h, seq, d, seed, linear):
    g = torch.Generator("cuda").manual_seed(seed)
    q, k, v = (torch.randn(b, seq, h, d, generator=g, device="cuda").to(torch.bfloat16) for _ in range(3))
    mq, nk = -(-seq // 64), -(-seq // 128)
    nt = topk_count(0.1, nk) if nk > 20 else max(1, nk // 2)
    scores = torch.rand(b, h, mq, nk, generator=g, device="cuda")
    lut = scores.topk(nt, dim=-1).indices.sort(dim=-1).values.to(torch.int32).contiguous()
    proj = None
    if linear:
        proj = (torch.randn(d, d, generator=g, device="cuda").to(torch.bfloat16) / d**0.5,
                torch.randn(d, generator=g, device="cuda").to(torch.bfloat16))  # fmt: skip
    return q, k, v, lut, proj


def run(q, k, v, lut, proj, launcher):
    """sage_forward_triton with the Gluon kernel's launcher swapped; returns (out, the launcher's args)."""
    seen = {}

    def record(*args, **kwargs):
        seen["args"], seen["kwargs"] = args, kwargs
        return launcher(*args, **kwargs)

    original = kw.sage_sparse_wgmma
    kw.sage_sparse_wgmma = record
    try:
        out = sage_kernel.sage_forward_triton(
            q, k, v, block_q=64, block_k=128, lut=lut, proj=proj, eps=1e-6, pv="fp8", v_range=448.0,
            kernel="wgmma",
        )  # fmt: skip
    finally:
        kw.sage_sparse_wgmma = original
    return out, seen


def main(out_path):
    rows = []
    checks = [(1, 3, 4097, 128, 1), (2, 2, 200, 64, 2), (1, 2, 333, 128, 3), (1, 12, 32760, 128, 4)]
    for b, h, seq, d, seed in checks:
        for linear in (False, True):
            x = case(b, h, seq, d, seed, linear)
            ref, _ = run(*x, kw.sage_sparse_wgmma)
            got, _ = run(*x, pp.sage_sparse_wgmma)
            diff = (got.float() - ref.float()).abs().max().item()
            row = dict(
                check=[b, h, seq, d], linear=linear, equal=bool(torch.equal(got, ref)), max_abs_diff=diff
            )
            rows.append(row)
            print(json.dumps(row), flush=True)
    for name, (h, seq) in {
        "1.3b-480p": (12, 32760),
        "14b-480p": (40, 32760),
        "14b-720p": (40, 75600),
    }.items():
        for linear in (False, True):
            x = case(1, h, seq, 128, 5, linear)
            _, seen = run(*x, kw.sage_sparse_wgmma)
            args, kwargs = seen["args"], seen["kwargs"]
            fns = {
                "kernel": lambda args=args, kwargs=kwargs: kw.sage_sparse_wgmma(*args, **kwargs),
                "pingpong": lambda args=args, kwargs=kwargs: pp.sage_sparse_wgmma(*args, **kwargs),
                "two_wg": lambda args=args, kwargs=kwargs: pp.sage_sparse_wgmma(
                    *args, **kwargs, pingpong=False
                ),
            }
            row = dict(shape=name, linear=linear)
            for rnd in range(2):
                for vname, fn in fns.items():
                    row[f"{vname}_{rnd}"] = dict(burst_ms=time_ms(fn), **sustained(fn, seconds=1.5))
            rows.append(row)
            print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
