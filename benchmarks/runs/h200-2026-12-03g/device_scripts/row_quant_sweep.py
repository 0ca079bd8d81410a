"""Device sweep (2026-12-03g, call 3): the row quantiser (no GELU) with whole rows as a head tile and a tail
(``row_quant_tiles.py``: at the call, the tree's quant/row_quant/kernel.py; not adopted)
against the kernel at 8fcf703 (one padded tile) and against two passes of column steps, at the 1.3B and
14B attention-output widths; each launch timed in a CUDA graph of 20 calls (median of 5 replays). Codes and
scales must equal the kernel before's bit for bit.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03g/device_scripts \
        python benchmarks/runs/h200-2026-12-03g/device_scripts/row_quant_sweep.py OUT.json
"""

import json
import sys

import row_quant_tiles as rq
import torch
import triton
from row_kernel_sweep import graph_ms

from turbodiffusion.quant.row_quant import kernel as old  # 8fcf703's, unchanged since


def main() -> None:
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}
    rows = []
    for seq, dim in ((32760, 1536), (75600, 5120)):
        g = torch.Generator(device="cuda").manual_seed(3)
        x = torch.randn(seq, dim, device="cuda", generator=g).to(torch.bfloat16)
        ref_q, ref_s = old.quantize_rows_triton(x)
        arms = {
            "at_8fcf703": lambda x=x: old.quantize_rows_triton(x),
            "tiles (default)": lambda x=x: rq.quantize_rows_triton(x),
        }
        head, tail = rq.row_tiles(dim)
        for r, w in ((1, 4), (2, 8), (1, 8), (4, 8)):
            launch = rq.RowQuantLaunch(r, head, w, tail)
            arms[f"tiles {r} {w}"] = lambda launch=launch, x=x: rq.quantize_rows_triton(x, launch=launch)
        for c, w in ((512, 2), (1024, 4), (2048, 4)):
            launch = rq.RowQuantLaunch(1, c, w)
            arms[f"looped {c} {w}"] = lambda launch=launch, x=x: rq.quantize_rows_triton(x, launch=launch)
        for name, fn in arms.items():
            q, s = fn()
            row = {"seq": seq, "dim": dim, "arm": name, "ms": graph_ms(fn)}
            row["gbps"] = seq * dim * 3 / row["ms"] / 1e6
            row["equal"] = bool(
                torch.equal(q.view(torch.int8), ref_q.view(torch.int8)) and torch.equal(s, ref_s)
            )
            rows.append(row)
            print(row, flush=True)
    out["rows"] = rows
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
