"""The Sage V quantiser (``quant.quantize_v_fp8_triton``, keys permuted as the sm_90 kernel reads them) at 4, 8
and 16 warps a program: codes and scales equal to the 4-warp launch's, ms a call (do_bench), two rounds.

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06e/device_scripts/v_quant_warps.py OUT.json
"""

import sys
from functools import partial

import torch
from common import environment, time_ms, write_json

from turbodiffusion.attention.sage import quant

SHAPES = {"1.3b-480p": (12, 32760), "14b-480p": (40, 32760), "14b-720p": (40, 75600)}
WARPS = (4, 8, 16)


def main() -> int:
    gen = torch.Generator(device="cuda").manual_seed(2)
    rows, ok = [], True
    for name, (h, seq) in SHAPES.items():
        v = torch.randn(1, seq, h, 128, generator=gen, device="cuda").bfloat16()
        amax = v.abs().amax(dim=1).float()
        call = partial(quant.quantize_v_fp8_triton, v, amax, 2.25, permute_keys=True)
        outs = {}
        for w in WARPS:
            quant.V_QUANT_WARPS = w
            outs[w] = call()
        for w in WARPS[1:]:
            equal = torch.equal(outs[w][0].view(torch.uint8), outs[4][0].view(torch.uint8))
            equal &= torch.equal(outs[w][1], outs[4][1])
            ok &= equal
            rows.append(dict(shape=name, warps=w, equal_to_4_warps=equal))
            print(rows[-1], flush=True)
        for rnd in range(2):
            for w in WARPS if rnd == 0 else tuple(reversed(WARPS)):
                quant.V_QUANT_WARPS = w
                ms = time_ms(call)[0]
                rows.append(dict(shape=name, warps=w, round=rnd, ms=ms, tb_s=v.numel() * 3 / ms / 1e9))
                print(rows[-1], flush=True)
        del v, outs
        torch.cuda.empty_cache()
    write_json(sys.argv[1], {"env": environment(), "rows": rows, "all_equal": ok})
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
