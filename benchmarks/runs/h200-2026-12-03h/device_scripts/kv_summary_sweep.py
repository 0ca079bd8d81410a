"""Device sweep (2026-12-03h, call 3): ``summarize_kv`` with the Gluon first pass (``kv_summary_wgmma``)
against the Triton kernel, state + statistics + m as SageSLA asks for them, k and v slices of one fused
[B, L, 3, H, D] projection as the model has them: outputs compared, each timed in a CUDA graph of 20 calls
(the Triton kernel first and last).

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03h/device_scripts \\
        python benchmarks/runs/h200-2026-12-03h/device_scripts/kv_summary_sweep.py OUT.json
"""

import json
import sys

import torch
from graph_timing import time_ms

from turbodiffusion.attention.sla.kernel_fwd import summarize_kv


def main(out_path):
    rows = []
    for name, (h, seq) in {
        "1.3b-480p": (12, 32760),
        "14b-480p": (40, 32760),
        "14b-720p": (40, 75600),
    }.items():
        g = torch.Generator("cuda").manual_seed(seq)
        qkv = torch.randn(1, seq, 3, h, 128, generator=g, device="cuda").to(torch.bfloat16)
        k, v = qkv[:, :, 1], qkv[:, :, 2]
        w = torch.randn(128, 128, generator=g, device="cuda") / 128**0.5

        def run(kernel, k=k, v=v, w=w):
            return summarize_kv(k, v, state=True, stats=True, weight=w, kernel=kernel)

        a, b = run("wgmma"), run("triton")
        row = dict(shape=name, bytes_read=2 * k.numel() * k.element_size())
        for field in ("kv", "ksum", "k_mean", "v_amax", "m"):
            x, y = getattr(a, field).float(), getattr(b, field).float()
            row[f"{field}_max_rel"] = ((x - y).abs().max() / y.abs().max()).item()
        row["triton_ms"] = time_ms(lambda: run("triton"))
        row["wgmma_ms"] = time_ms(lambda: run("wgmma"))
        row["triton_again_ms"] = time_ms(lambda: run("triton"))
        row["wgmma_read_tb_s"] = row["bytes_read"] / row["wgmma_ms"] / 1e9
        rows.append(row)
        print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
