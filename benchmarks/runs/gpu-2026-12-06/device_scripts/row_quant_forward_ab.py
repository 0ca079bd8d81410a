"""Whole forwards with the FFN's row quantiser holding its 8,960-wide GELU rows as five 2,048-lane tiles (the
tree's default) against two passes of 2,048 columns (the default at 4c5eaac): one random model at 1.3B-480p
(FP8-fast linears, fused ops, SageSLA top-k 0.1), a CUDA graph per arm, replays alternated.

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06/device_scripts/row_quant_forward_ab.py OUT.json
"""

from __future__ import annotations

import contextlib
import json
import sys

from forward_ab import time_forward_arms

from turbodiffusion.quant.row_quant import kernel as rq

TREE_LAUNCH = rq.row_quant_launch


def two_pass_launch(cols: int) -> rq.RowQuantLaunch:
    """4c5eaac's rule: rows that take tiles in the tree took two passes of 2,048 columns."""
    launch = TREE_LAUNCH(cols)
    return rq.RowQuantLaunch(1, 2048, 4) if launch.tiles else launch


@contextlib.contextmanager
def arm(name):
    """quantize_rows_triton looks the launch rule up by its module global, so the swap reaches captures."""
    rq.row_quant_launch = two_pass_launch if name == "two_pass" else TREE_LAUNCH
    try:
        yield
    finally:
        rq.row_quant_launch = TREE_LAUNCH


def main(out_path: str) -> None:
    arms = {a: lambda a=a: arm(a) for a in ("two_pass", "tiles")}
    row = time_forward_arms("wan2.1-t2v-1.3b", "480p", arms, 6, 8)
    print(json.dumps(row), flush=True)
    with open(out_path, "w") as f:
        json.dump(row, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
