"""Whole Turbo forwards with the cross-attention as two kernels (ops.rms_norm, then SDPA: the path before
ops.text_attention) against the fused kernel, one process, CUDA graphs replayed in alternation
(forward_ab.time_forward_arms), for a 24-token prompt (32 context rows + the padding's stand-ins: 48 keys) and
the whole 512-row context.

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06c/device_scripts/cross_attention_forward_ab.py \
        wan2.1-t2v-1.3b 480p --context-rows 32 512 --json OUT.json

``--sweep-json SWEEP --sweep-shape NAME``: the fused kernel runs the fastest launch that
benchmarks/text_attention.py --sweep measured for that shape at a 24-token prompt, not the default one.
"""

from __future__ import annotations

import argparse
import contextlib
import json
from unittest import mock

from forward_ab import time_forward_arms

from turbodiffusion.attention.sdpa import sdpa_attention
from turbodiffusion.ops.rms_norm import rms_norm


def two_kernels(q, weight, k, v, key_bias=None, eps=1e-6):
    """What WanCrossAttention's fused path ran before: the q norm kernel, then SDPA."""
    return sdpa_attention(rms_norm(q, weight, eps).unflatten(-1, (k.shape[2], -1)), k, v, key_bias)


def unfused() -> contextlib.AbstractContextManager:
    return mock.patch("turbodiffusion.models.wan.dit.text_attention", two_kernels)


def fastest_launch(path: str, shape: str):
    """The fastest fused launch of ``shape`` at a 24-token prompt in a text_attention.py --sweep JSON."""
    # ops.text_attention exists at e4e4763, where this script ran; it was reverted after these A/Bs.
    from turbodiffusion.ops.text_attention.kernel import TextAttentionLaunch

    with open(path) as f:
        rows = [r for r in json.load(f)["rows"] if r["shape"] == shape and r["prompt"] == 24]
    best = min((r for r in rows if r["impl"] == "text_attention"), key=lambda r: r["ms"])
    print(f"fastest launch at {shape}: {best}", flush=True)
    return TextAttentionLaunch(best["block_m"], best["block_n"], best["num_warps"], 1, best["max_registers"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("resolution")
    parser.add_argument("--context-rows", type=int, nargs="+", default=[32])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--json", required=True)
    parser.add_argument("--sweep-json", default=None)
    parser.add_argument("--sweep-shape", default=None)
    args = parser.parse_args()
    if args.sweep_json:
        launch = fastest_launch(args.sweep_json, args.sweep_shape)
        mock.patch(
            "turbodiffusion.ops.text_attention.kernel.text_attention_launch", lambda keys: launch
        ).start()
    rows = []
    for context_rows in args.context_rows:
        arms = {"two_kernels": unfused, "text_attention": contextlib.nullcontext}
        row = time_forward_arms(
            args.preset, args.resolution, arms, args.rounds, args.reps, context_rows=context_rows
        )
        print(json.dumps(row), flush=True)
        rows.append(row)
    with open(args.json, "w") as f:
        json.dump(rows, f, indent=2)


if __name__ == "__main__":
    main()
