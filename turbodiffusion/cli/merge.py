"""``turbodiffusion merge``: θ_turbo = θ_rCM + w (θ_SLA − θ_pre), written as one TurboWan checkpoint."""

from __future__ import annotations

import argparse


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--pretrained", required=True, help="the base checkpoint both runs started from")
    parser.add_argument("--sla", required=True, help="the SLA fine-tuned checkpoint (holds proj_l)")
    parser.add_argument("--rcm", required=True, help="the rCM-distilled checkpoint")
    parser.add_argument("--out", required=True, help="output .safetensors path")
    parser.add_argument("--weight", type=float, default=1.0, help="w, the weight of the SLA update")


def run(args: argparse.Namespace) -> int:
    from ..training.merge import merge_checkpoints

    report = merge_checkpoints(args.pretrained, args.sla, args.rcm, args.out, weight=args.weight)
    print(
        f"merged {len(report.merged)} tensors, copied {len(report.copied_from_sla)} SLA-only, "
        f"kept {len(report.kept_rcm)} rCM-only"
    )
    print(args.out)
    return 0
