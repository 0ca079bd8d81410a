"""SageSLA's linear epilogue in the sm_90 Sage kernel, three ways (``sage_sparse_wgmma``'s switches):
``base``: q read from global memory in the epilogue, m = KV W^T loaded into the K ring once the last Q.K^T has
read it; ``q_prefetch``: q's 64 x D tile loaded by TMA into its own shared memory at the program's start;
``m_early``: m loaded into its own shared memory at the start. Outputs must equal base's bit for bit; times
alternate over two rounds; top-k 0.1, random luts. Also the kernel without the branch, for its cost.

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06e/device_scripts/linear_epilogue_ab.py OUT.json
"""

import math
import sys
from functools import partial

import torch
import triton
from common import environment, time_ms, write_json
from sage_tiles import SHAPES, D, random_lut, sage_operands

from turbodiffusion.attention.sage.kernel_wgmma import BLOCK_M, BLOCK_N, LinearBranch, sage_sparse_wgmma
from turbodiffusion.attention.sla.block_map import topk_count
from turbodiffusion.attention.sla.kernel_fwd import LOG2E

VARIANTS = {"base": {}, "q_prefetch": {"q_prefetch": True}, "m_early": {"m_early": True}, "no_linear": None}


def main() -> int:
    gen = torch.Generator(device="cuda").manual_seed(1)
    rows, ok = [], True
    for name, (h, seq) in SHAPES.items():
        q, summary, qi, qs, ki, ks, vq, vs = sage_operands(h, seq, gen)
        bias = torch.randn(D, generator=gen, device="cuda") * 0.1
        linear = LinearBranch(q, summary.m, summary.ksum, bias, 1e-5 / seq)
        mq, nk = triton.cdiv(seq, BLOCK_M), triton.cdiv(seq, BLOCK_N)
        lut = random_lut(h, mq, nk, topk_count(0.1, nk), gen)
        outs, calls = {}, {}
        for var, flags in VARIANTS.items():
            outs[var] = torch.empty_like(q)
            base_args = (qi, qs, ki, ks, vq, vs, lut, outs[var], LOG2E / math.sqrt(D))
            if flags is None:
                calls[var] = partial(sage_sparse_wgmma, *base_args)
            else:
                calls[var] = partial(sage_sparse_wgmma, *base_args, linear=linear, **flags)
            calls[var]()
        torch.cuda.synchronize()
        for var in ("q_prefetch", "m_early"):
            equal = torch.equal(outs[var], outs["base"])
            ok &= equal
            rows.append(dict(shape=name, variant=var, equal_to_base=equal,
                             max_abs_diff=(outs[var].float() - outs["base"].float()).abs().max().item()))  # fmt: skip
            print(rows[-1], flush=True)
        for rnd in range(2):
            order = list(VARIANTS) if rnd == 0 else list(reversed(VARIANTS))
            for var in order:
                rows.append(dict(shape=name, variant=var, round=rnd, ms=time_ms(calls[var])[0]))
                print(rows[-1], flush=True)
        del q, qi, ki, vq, outs, calls
        torch.cuda.empty_cache()
    write_json(sys.argv[1], {"env": environment(), "rows": rows, "all_equal": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
