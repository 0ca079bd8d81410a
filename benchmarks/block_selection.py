"""SLA's block selection: the top-k kernel (topk_kernel.py) against torch.topk + sort, at the Wan shapes.

Per shape: the block scores [1, H, Mq, Nk] (bf16, as the model's are) of SageSLA's sm90 blocks (64-row query
blocks, 128-row key blocks) at topk 0.1, each query block's lut (ascending key-block indices) made by
``torch.topk(..., sorted=False)`` and a sort of its indices (what the official code runs, and this repository
ran before the kernel) and by ``topk_lut_triton``. Both are first checked against ``topk_lut_reference`` on
random scores and on scores full of ties (the kernel must equal it; for torch the share of equal rows is
reported), then timed; "speed-up" is torch's time over the kernel's, measured in the same run. The kernel's
other launches (``LAUNCHES``: rows a program and warps) are checked and timed too.

    PYTHONPATH=. python benchmarks/block_selection.py --json results/block_selection.json   # GPU
    PYTHONPATH=. python benchmarks/block_selection.py --quick                                # CPU smoke, checks only
"""

from __future__ import annotations

import argparse
import os

import torch
from common import environment, print_table, time_ms, write_json

from turbodiffusion.attention.sla.block_map import topk_count, topk_lut_reference, topk_lut_torch

# name -> (heads H, tokens L); L from models.md §8, the blocks SageSLA's sm90 default.
SHAPES = {"1.3b-480p": (12, 32760), "14b-480p": (40, 32760), "14b-720p": (40, 75600)}
QUICK_SHAPES = {"quick": (2, 3000)}
BLOCK_Q, BLOCK_K, TOPK_RATIO = 64, 128, 0.1
# (lanes, warps) of the kernel's launch besides its default (2,048 lanes, 4 warps): fewer warps a row keep the
# 16 count reductions of its bit search inside a warp (shuffles, no barrier); 14B-720p's rows pad 591 scores
# to 1,024 lanes.
LAUNCHES = ((2048, 2), (2048, 1), (1024, 1), (1024, 2), (4096, 4))


def run_shape(name: str, heads: int, tokens: int, device: torch.device, quick: bool) -> dict:
    from turbodiffusion.attention.sla.topk_kernel import topk_lut_triton

    mq, nk = -(-tokens // BLOCK_Q), -(-tokens // BLOCK_K)
    topk = topk_count(TOPK_RATIO, nk)
    g = torch.Generator(device).manual_seed(1)
    scores = torch.randn(1, heads, mq, nk, generator=g, device=device).to(torch.bfloat16)
    tied = torch.randint(-2, 3, scores.shape, generator=g, device=device).to(torch.bfloat16)
    row = {"shape": name, "rows": heads * mq, "nk": nk, "topk": topk}
    for label, s in (("random", scores), ("tied", tied)):
        ref = topk_lut_reference(s, topk)
        if not torch.equal(topk_lut_triton(s, topk), ref):
            raise SystemExit(f"{name}: the kernel's lut differs from topk_lut_reference on {label} scores")
        row[f"torch_same_rows_{label}"] = float((topk_lut_torch(s, topk) == ref).all(-1).float().mean())
    for lanes, warps in LAUNCHES:  # the kernel's other launches give the same lut
        if not torch.equal(
            topk_lut_triton(scores, topk, lanes=lanes, num_warps=warps), topk_lut_reference(scores, topk)
        ):
            raise SystemExit(
                f"{name}: the kernel's lut at lanes {lanes}, {warps} warps differs from the reference"
            )
    if not quick:
        row["torch_ms"] = time_ms(lambda: topk_lut_torch(scores, topk))[0]
        row["kernel_ms"] = time_ms(lambda: topk_lut_triton(scores, topk))[0]
        row["speedup"] = row["torch_ms"] / row["kernel_ms"]
        row["kernel_ms_by_launch"] = {
            f"{lanes} lanes, {warps} warps": time_ms(
                lambda lanes=lanes, warps=warps: topk_lut_triton(scores, topk, lanes=lanes, num_warps=warps)
            )[0]
            for lanes, warps in LAUNCHES
        }
    return row


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--quick", action="store_true", help="small shape on the CPU interpreter: checks only"
    )
    parser.add_argument("--json", default="results/block_selection.json")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    if not args.quick and not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU; use --quick for the CPU smoke run")
    if args.quick:
        os.environ.setdefault("TRITON_INTERPRET", "1")  # before triton is imported
    device = torch.device("cpu" if args.quick else "cuda")
    rows = [
        run_shape(name, h, seq, device, args.quick)
        for name, (h, seq) in (QUICK_SHAPES if args.quick else SHAPES).items()
    ]
    columns = ["shape", "rows", "nk", "topk", "torch_same_rows_random", "torch_same_rows_tied"]
    print_table(rows, columns if args.quick else [*columns, "torch_ms", "kernel_ms", "speedup"])
    write_json(args.json, {"env": environment(), "args": vars(args), "rows": rows})
    print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
