"""Device check (2026-12-03, call 3): which half of ``summarize_kv`` costs the time, the linear state (an MMA
and a softmax over D per row) or the column statistics (K's sums, V's maxima), at the 1.3B-480p and
14B-720p shapes, with the default launch and two others.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03/device_scripts python .../kv_summary_split.py OUT.json
"""

from __future__ import annotations

import json
import sys

import torch
from sage_blocks_sweep import SHAPES, graph_ms

from turbodiffusion.attention.sla.kernel_fwd import KVSummaryLaunch, kv_summary_launch, summarize_kv


def main() -> None:
    rows = []
    for name, (shape, _grid) in SHAPES.items():
        b, seq, h, d = shape
        g = torch.Generator(device="cuda").manual_seed(0)
        k, v = (torch.randn(b, seq, h, d, device="cuda", generator=g).bfloat16() for _ in range(2))
        floor_ms = 2 * k.numel() * 2 / 3.3e12 * 1e3  # k and v read once at ~3.3 TB/s
        default = kv_summary_launch(b * h * seq)
        for launch in (default, KVSummaryLaunch(64, 8, 2, default.programs_per_sm),
                       KVSummaryLaunch(64, 4, 3, default.programs_per_sm)):  # fmt: skip
            for state, stats in ((True, True), (True, False), (False, True)):
                ms = graph_ms(
                    lambda k=k, v=v, s=state, t=stats, la=launch: summarize_kv(
                        k, v, state=s, stats=t, launch=la
                    )
                )
                row = {"shape": name, "launch": launch.__dict__, "state": state, "stats": stats, "ms": ms,
                       "read_floor_ms": floor_ms}  # fmt: skip
                rows.append(row)
                print(row, flush=True)
    with open(sys.argv[1], "w") as fh:
        json.dump({"device": torch.cuda.get_device_name(), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
