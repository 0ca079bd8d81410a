"""Per-thread row sums in the sm_90 Sage kernel (``sage_wgmma_rowsums.py``; on the device it was the tree's
kernel, hence the arm names "tree" in the JSON) against the kernel at 8fffc09 (``sage_wgmma_at_8fffc09.py``): one layer (burst and ~1.5 s sustained with the clock sampled, the two
alternated; outputs compared in bf16 steps at the output's scale), then whole forwards with 03h's
``forward_ab.run`` (one model, a CUDA graph per arm, replayed in alternation).

    PYTHONPATH=.:benchmarks:benchmarks/runs/h200-2026-12-03h/device_scripts:benchmarks/runs/h200-2026-12-04/device_scripts \\
        python benchmarks/runs/h200-2026-12-04/device_scripts/rowsum_ab.py OUT.json
"""

import json
import sys

import forward_ab
import sage_wgmma_at_8fffc09 as before
import sage_wgmma_rowsums as rowsums
import torch
from graph_timing import time_ms
from pingpong_bench import case, run
from sage_clock_probe import sustained

from turbodiffusion.attention.sage import kernel_wgmma as kw

forward_ab.PATCHES["tree"] = [(kw, "sage_sparse_wgmma", rowsums.sage_sparse_wgmma)]
forward_ab.PATCHES["sage_at_8fffc09"] = [(kw, "sage_sparse_wgmma", before.sage_sparse_wgmma)]


def main(out_path):
    rows = []
    tree_fn = rowsums.sage_sparse_wgmma
    for name, (h, seq) in {
        "ragged": (3, 4097), "1.3b-480p": (12, 32760), "14b-480p": (40, 32760), "14b-720p": (40, 75600),
    }.items():  # fmt: skip
        for linear in (False, True):
            x = case(1, h, seq, 128, 5, linear)
            new, seen = run(*x, tree_fn)
            old, _ = run(*x, before.sage_sparse_wgmma)
            ulp = 2.0 ** (torch.floor(torch.log2(old.float().abs().max())).item() - 7)
            row = dict(shape=name, linear=linear, equal=bool(torch.equal(new, old)),
                       max_diff_bf16_steps=((new.float() - old.float()).abs().max().item() / ulp),
                       share_equal=(new == old).float().mean().item())  # fmt: skip
            if name != "ragged":
                args, kwargs = seen["args"], seen["kwargs"]
                fns = {
                    "tree": lambda args=args, kwargs=kwargs: tree_fn(*args, **kwargs),
                    "before": lambda args=args, kwargs=kwargs: before.sage_sparse_wgmma(*args, **kwargs),
                }
                for rnd in range(2):
                    for arm, fn in fns.items():
                        row[f"{arm}_{rnd}"] = dict(burst_ms=time_ms(fn), **sustained(fn, seconds=1.5))
            rows.append(row)
            print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(rows, f, indent=1)
    for args in (("wan2.1-t2v-1.3b", "480p", 6, 8), ("wan2.1-t2v-14b", "720p", 2, 3)):
        rows.append(forward_ab.run(*args, ["tree", "sage_at_8fffc09"]))
        with open(out_path, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
