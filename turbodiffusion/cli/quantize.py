"""``turbodiffusion quantize SRC DST``: convert a float Wan DiT checkpoint to the W8A8 INT8 layout."""

from __future__ import annotations

import argparse
import time


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "src",
        help="float (bf16/fp16/fp32) Wan DiT checkpoint: .safetensors, a sharded *.safetensors.index.json "
        "(or its folder), or a .pth state dict",
    )
    parser.add_argument("dst", help="output file: .safetensors (quant config in its metadata) or .pth")
    parser.add_argument("--overwrite", action="store_true", help="replace DST if it exists")
    parser.add_argument(
        "--device",
        default="cpu",
        help='where to quantise: "cpu" (PyTorch reference) or "cuda" (Triton kernel, same bits)',
    )
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")


def run(args: argparse.Namespace) -> int:
    from ..quant.checkpoint import quantize_checkpoint
    from ..quant.config import Int8Config

    start = time.perf_counter()
    dst = quantize_checkpoint(
        args.src,
        args.dst,
        Int8Config(),
        overwrite=args.overwrite,
        device=args.device,
        progress=not args.no_progress,
    )
    print(f"{dst}  ({time.perf_counter() - start:.1f} s)")
    return 0
