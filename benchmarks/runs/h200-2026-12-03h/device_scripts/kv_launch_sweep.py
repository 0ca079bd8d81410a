"""Device sweep (2026-12-03h, call 5): the Gluon K/V summary's ring depth and programs an SM (the splits of
each head's tokens), timed as ``summarize_kv`` runs it (state, statistics and m), CUDA graph of 20 calls.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03h/device_scripts \\
        python benchmarks/runs/h200-2026-12-03h/device_scripts/kv_launch_sweep.py OUT.json
"""

import json
import sys

import torch
from graph_timing import time_ms

from turbodiffusion.attention.sla import kernel_fwd as kf
from turbodiffusion.attention.sla import kv_summary_wgmma as kw


def main(out_path):
    rows = []
    for name, (h, seq) in {"1.3b-480p": (12, 32760), "14b-720p": (40, 75600)}.items():
        g = torch.Generator("cuda").manual_seed(seq)
        qkv = torch.randn(1, seq, 3, h, 128, generator=g, device="cuda").to(torch.bfloat16)
        k, v = qkv[:, :, 1], qkv[:, :, 2]
        w = torch.randn(128, 128, generator=g, device="cuda") / 128**0.5
        default = kf.kv_summary_launch(h * seq)
        for stages in (3, 4):
            kw.STAGES = stages
            for per_sm in (1, 2, 4, 8, 16):
                launch = kf.KVSummaryLaunch(default.block_l, default.num_warps, default.num_stages, per_sm)
                ms = time_ms(
                    lambda launch=launch, k=k, v=v, w=w: kf.summarize_kv(
                        k, v, state=True, stats=True, weight=w, launch=launch, kernel="wgmma"
                    )
                )
                row = dict(shape=name, stages=stages, programs_per_sm=per_sm, ms=ms,
                           default=stages == 4 and per_sm == default.programs_per_sm)  # fmt: skip
                rows.append(row)
                print(json.dumps(row), flush=True)
        kw.STAGES = 4
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
