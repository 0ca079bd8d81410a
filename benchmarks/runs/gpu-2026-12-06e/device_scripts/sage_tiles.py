"""The sm_90 Sage kernel alone (``kernel_wgmma.sage_sparse_wgmma``, the tree's), with and without SageSLA's
linear epilogue, at key tiles per query block NT = top-k 0.05 / 0.1 / 0.2 of the key blocks (random sorted
luts): a straight line through the three gives the cost of a tile and the fixed cost of a program. Also
reports the tiles' K and V bytes over the time (L2 -> SM traffic).

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06e/device_scripts/sage_tiles.py OUT.json
"""

import math
import sys
from functools import partial

import torch
import triton
from common import environment, time_ms, write_json

from turbodiffusion.attention.sage.kernel_wgmma import BLOCK_M, BLOCK_N, LinearBranch, sage_sparse_wgmma
from turbodiffusion.attention.sage.quant import quantize_int8_triton, quantize_v_fp8_triton
from turbodiffusion.attention.sla.block_map import topk_count
from turbodiffusion.attention.sla.kernel_fwd import LOG2E, summarize_kv

SHAPES = {"1.3b-480p": (12, 32760), "14b-480p": (40, 32760), "14b-720p": (40, 75600)}
TOPKS = (0.05, 0.1, 0.2)
D = 128


def random_lut(h: int, mq: int, nk: int, nt: int, gen: torch.Generator) -> torch.Tensor:
    scores = torch.rand(1, h, mq, nk, generator=gen, device="cuda")
    return scores.topk(nt, dim=-1).indices.sort(dim=-1).values.to(torch.int32).contiguous()


def sage_operands(h: int, seq: int, gen: torch.Generator) -> tuple:
    """Random bf16 q, k, v [1, seq, h, D] and proj_l weight, quantised as SageSLA's launcher does: (q, its
    summary, qi, qs, ki, ks, vq, vs)."""
    q, k, v = (torch.randn(1, seq, h, D, generator=gen, device="cuda").bfloat16() for _ in range(3))
    weight = (torch.randn(D, D, generator=gen, device="cuda") / math.sqrt(D)).bfloat16()
    summary = summarize_kv(k, v, state=True, stats=True, weight=weight)
    qi, qs = quantize_int8_triton(q, BLOCK_M)
    ki, ks = quantize_int8_triton(k, BLOCK_N, summary.k_mean, pad_rows=True)
    vq, vs = quantize_v_fp8_triton(v, summary.v_amax, 2.25, permute_keys=True)
    return q, summary, qi, qs, ki, ks, vq, vs


def main() -> int:
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for name, (h, seq) in SHAPES.items():
        q, summary, qi, qs, ki, ks, vq, vs = sage_operands(h, seq, gen)
        linear = LinearBranch(q, summary.m, summary.ksum, torch.zeros(D, device="cuda"), 1e-5 / seq)
        o = torch.empty_like(q)
        mq, nk = triton.cdiv(seq, BLOCK_M), triton.cdiv(seq, BLOCK_N)
        programs = mq * h
        for topk in TOPKS:
            nt = topk_count(topk, nk)
            lut = random_lut(h, mq, nk, nt, gen)
            for lin in (None, linear):
                call = partial(
                    sage_sparse_wgmma, qi, qs, ki, ks, vq, vs, lut, o, LOG2E / math.sqrt(D), linear=lin
                )
                ms = time_ms(call)[0]
                tiles = programs * nt
                rows.append(dict(shape=name, topk=topk, nt=nt, linear=lin is not None, ms=ms, programs=programs,
                                 ns_per_tile=ms * 1e6 / tiles, kv_tb_s=tiles * 2 * BLOCK_N * D / ms / 1e9))  # fmt: skip
                print(rows[-1], flush=True)
        for lin in (False, True):
            pts = [(r["nt"], r["ms"]) for r in rows if r["shape"] == name and r["linear"] == lin]
            n = len(pts)
            mx, my = sum(p[0] for p in pts) / n, sum(p[1] for p in pts) / n
            slope = sum((x - mx) * (y - my) for x, y in pts) / sum((x - mx) ** 2 for x, _ in pts)
            fit = dict(shape=name, linear=lin, fit=True, ms_per_tile_column=slope, fixed_ms=my - slope * mx,
                       fixed_share_at_0_1=(my - slope * mx) / [y for x, y in pts][1])  # fmt: skip
            rows.append(fit)
            print(fit, flush=True)
        del q, qi, ki, vq, o
        torch.cuda.empty_cache()
    write_json(sys.argv[1], {"env": environment(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
