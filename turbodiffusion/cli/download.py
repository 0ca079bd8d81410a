"""``turbodiffusion download PRESET [--dir DIR]``: fetch a preset's files from the Hugging Face hub."""

from __future__ import annotations

import argparse

from ..pipelines.presets import PRESETS


def add_arguments(parser: argparse.ArgumentParser) -> None:
    names = [n for n, p in PRESETS.items() if p.hub]
    parser.add_argument("preset", choices=names, metavar="PRESET", help=f"one of: {', '.join(names)}")
    parser.add_argument(
        "--dir",
        default=None,
        help="destination folder (default: ./checkpoints/PRESET); existing files are kept",
    )


def run(args: argparse.Namespace) -> int:
    from ..pipelines.checkpoints import download

    folder = download(args.preset, args.dir)
    print(f"{args.preset}: files in {folder}")
    print(f"use them with: turbodiffusion generate PROMPT --model {args.preset} --checkpoint-dir {folder}")
    return 0
