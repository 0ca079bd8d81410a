"""``summarize_kv`` with the Gluon first pass as it is in the tree against the kernel at 0a592f7
(``kv_summary_at_0a592f7.py``, swapped in under the same launcher) and the Triton kernel: state + statistics
+ m as SageSLA asks for them, k and v slices of one fused [B, L, 3, H, D] projection, bf16 and fp16; outputs
compared, each timed in CUDA graphs of 20 calls (the tree's kernel first and last).

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts \\
        python benchmarks/runs/h200-2026-12-04/device_scripts/kv_summary_ab.py OUT.json
"""

import contextlib
import json
import sys

import kv_summary_at_0a592f7 as before
import torch
from graph_timing import time_ms

from turbodiffusion.attention.sla import kv_summary_wgmma as tree
from turbodiffusion.attention.sla.kernel_fwd import summarize_kv

FIELDS = ("kv", "ksum", "k_mean", "v_amax", "m")


@contextlib.contextmanager
def kernel_before():
    now = tree._kv_summary_wgmma_kernel
    tree._kv_summary_wgmma_kernel = before._kv_summary_wgmma_kernel
    try:
        yield
    finally:
        tree._kv_summary_wgmma_kernel = now


def max_rel(a, b):
    x, y = a.float(), b.float()
    return ((x - y).abs().max() / y.abs().max().clamp_min(1e-30)).item()


def main(out_path):
    rows = []
    shapes = {"ragged": (3, 4097), "1.3b-480p": (12, 32760), "14b-480p": (40, 32760), "14b-720p": (40, 75600)}
    for dtype in (torch.bfloat16, torch.float16):
        for name, (h, seq) in shapes.items():
            if dtype == torch.float16 and name not in ("ragged", "1.3b-480p"):
                continue
            g = torch.Generator("cuda").manual_seed(seq)
            qkv = torch.randn(1, seq, 3, h, 128, generator=g, device="cuda").to(dtype)
            k, v = qkv[:, :, 1], qkv[:, :, 2]
            w = torch.randn(128, 128, generator=g, device="cuda") / 128**0.5

            def run(kernel, k=k, v=v, w=w):
                return summarize_kv(k, v, state=True, stats=True, weight=w, kernel=kernel)

            new, tri = run("wgmma"), run("triton")
            with kernel_before():
                old = run("wgmma")
            row = dict(shape=name, dtype=str(dtype), bytes_read=2 * k.numel() * k.element_size())
            for field in FIELDS:
                row[f"{field}_new_vs_before"] = max_rel(getattr(new, field), getattr(old, field))
                row[f"{field}_new_vs_triton"] = max_rel(getattr(new, field), getattr(tri, field))
                row[f"{field}_before_vs_triton"] = max_rel(getattr(old, field), getattr(tri, field))
            row["v_amax_equal_before"] = bool(torch.equal(new.v_amax, old.v_amax))
            row["tree_ms"] = time_ms(lambda run=run: run("wgmma"))
            with kernel_before():
                row["before_ms"] = time_ms(lambda run=run: run("wgmma"))
            row["tree_again_ms"] = time_ms(lambda run=run: run("wgmma"))
            row["triton_ms"] = time_ms(lambda run=run: run("triton"))
            rows.append(row)
            print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
