"""Wan's cross-attention after its q projection: q's RMSNorm then SDPA (two kernels) against the fused
``ops.text_attention`` (one), at the real shapes and the key counts a prompt gives, in one run.

    PYTHONPATH=.:benchmarks python benchmarks/text_attention.py --json results/text_attention.json     # GPU
    PYTHONPATH=.:benchmarks python benchmarks/text_attention.py --sweep --json OUT.json  # + launch sweep
    PYTHONPATH=.:benchmarks python benchmarks/text_attention.py --quick                  # CPU smoke run

Per shape (tokens, heads of 128) and prompt length: the keys are the pipeline's trimmed rows (a multiple of
32) plus the padding's weighted stand-ins (models.wan.text_padding), with their key bias; 512 prompt tokens is
the whole context. Each implementation is checked against the fp32 reference (its max error beside the
unfused path's) and then timed (triton's do_bench; CUDA events on the CPU's interpreter in --quick). Bytes
are q read and the output written once (bf16); "x floor" is the time over those bytes at the copy bandwidth
measured in the same run; "speedup" is against the unfused path in the same run.
"""

from __future__ import annotations

import argparse
import itertools
import json
import time

import torch
from common import environment, measure_ceilings, print_table, time_ms, write_json

from turbodiffusion.attention.sdpa import sdpa_attention
from turbodiffusion.models.wan.text_padding import key_bias, padding_biases
from turbodiffusion.ops.rms_norm import rms_norm
from turbodiffusion.ops.text_attention import text_attention_reference
from turbodiffusion.ops.text_attention.kernel import (
    TextAttentionLaunch,
    text_attention_launch,
    text_attention_triton,
)
from turbodiffusion.pipelines.text import CONTEXT_ROWS_MULTIPLE
from turbodiffusion.testing.compare import max_rel

TEXT_LEN = 512  # umT5's context rows, every Wan preset
# name -> (tokens L of one 81-frame video, heads of 128)
SHAPES = {"1.3b-480p": (32760, 12), "14b-480p": (32760, 40), "14b-720p": (75600, 40)}
QUICK_SHAPES = {"quick": (70, 2)}
PROMPTS = (24, 200, 512)
SWEEP = {"block_m": (16, 32, 64, 128), "num_warps": (4, 8), "max_registers": (0, 128)}


def keys_for(prompt_tokens: int) -> int:
    """Keys the DiT attends to for a prompt of that many tokens: trimmed rows plus the stand-ins."""
    rows = min(TEXT_LEN, -(-prompt_tokens // CONTEXT_ROWS_MULTIPLE) * CONTEXT_ROWS_MULTIPLE)
    return rows + len(padding_biases(rows, TEXT_LEN, torch.bfloat16))


def make_inputs(tokens: int, heads: int, prompt_tokens: int, device: torch.device):
    """q [1, L, H * 128] bf16 (a projection's output), weight [H * 128] fp32, k, v [1, Lk, H, 128] bf16 (k
    normalised), the key bias [Lk] bf16 (None for a whole context: no stand-ins)."""
    rows = min(TEXT_LEN, -(-prompt_tokens // CONTEXT_ROWS_MULTIPLE) * CONTEXT_ROWS_MULTIPLE)
    biases = padding_biases(rows, TEXT_LEN, torch.bfloat16)
    g = torch.Generator(device).manual_seed(tokens + heads + prompt_tokens)
    dim, keys = heads * 128, rows + len(biases)
    q = (2 * torch.randn(1, tokens, dim, generator=g, device=device) + 0.3).to(torch.bfloat16)
    w = 1 + 0.1 * torch.randn(dim, generator=g, device=device)
    k = (3 * torch.randn(1, keys, heads, 128, generator=g, device=device)).to(torch.bfloat16)
    v = torch.randn(1, keys, heads, 128, generator=g, device=device).to(torch.bfloat16)
    return q, w, k, v, key_bias(rows, biases, torch.bfloat16, device)


def unfused(q, w, k, v, bias):
    """The model's path before the fused op: ops.rms_norm (Triton on CUDA), then SDPA (cuDNN's on an H100)."""
    return sdpa_attention(rms_norm(q, w).unflatten(-1, (k.shape[2], -1)), k, v, bias)


def launches(sweep: bool, keys: int) -> list[TextAttentionLaunch]:
    """The default launch first, then (with ``sweep``) every other of SWEEP, with the default's key tile and
    unpipelined loads."""
    default = text_attention_launch(keys)
    if not sweep:
        return [default]
    grid = [
        TextAttentionLaunch(m, default.block_n, warps, 1, regs)
        for m, warps, regs in itertools.product(*SWEEP.values())
    ]
    return [default] + [c for c in grid if c != default]


def timed(fn, device: torch.device) -> float:
    if device.type == "cuda":
        return time_ms(fn)[0]
    t0 = time.perf_counter()
    fn()
    return (time.perf_counter() - t0) * 1e3


def measure_case(
    name: str,
    tokens: int,
    heads: int,
    prompt: int,
    device: torch.device,
    sweep: bool,
    copy_gbps: float | None,
) -> list[dict]:
    """The unfused path's row, then one row per launch of the fused kernel, for one shape and prompt."""
    q, w, k, v, bias = make_inputs(tokens, heads, prompt, device)
    truth = text_attention_reference(
        q.float(), w, k.float(), v.float(), None if bias is None else bias.float()
    )
    common = dict(shape=name, tokens=tokens, heads=heads, prompt=prompt, keys=k.shape[1])
    base_ms = timed(lambda: unfused(q, w, k, v, bias), device)
    rows = [dict(common, impl="rms_norm+sdpa", ms=base_ms, max_rel=max_rel(unfused(q, w, k, v, bias), truth))]
    for launch in launches(sweep, k.shape[1]):

        def call(launch=launch):
            return text_attention_triton(q, w, k, v, bias, launch=launch)

        err = max_rel(call(), truth)
        rows.append(dict(common, impl="text_attention", block_m=launch.block_m, block_n=launch.block_n,
                         num_warps=launch.num_warps, max_registers=launch.max_registers, ms=timed(call, device),
                         max_rel=err))  # fmt: skip
    bytes_moved = 2 * 2 * q.numel()  # q read and the output written, bf16
    for row in rows:
        row["speedup"] = base_ms / row["ms"]
        if copy_gbps:
            row.update(gbps=bytes_moved / row["ms"] / 1e6, x_floor=row["ms"] * copy_gbps * 1e6 / bytes_moved)
    print(json.dumps(rows), flush=True)  # as each case ends: a run cut short keeps what it measured
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shapes", nargs="+", default=list(SHAPES), choices=list(SHAPES))
    parser.add_argument("--prompt-tokens", type=int, nargs="+", default=list(PROMPTS))
    parser.add_argument("--sweep", action="store_true", help="time every launch of SWEEP too")
    parser.add_argument("--quick", action="store_true", help="tiny shape on the CPU (interpreter): checks")
    parser.add_argument("--json", default=None)
    args = parser.parse_args()
    if any(not 1 <= n <= TEXT_LEN for n in args.prompt_tokens):
        parser.error(f"--prompt-tokens must be 1 to {TEXT_LEN} (got {args.prompt_tokens})")
    if not args.quick and not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU; use --quick for the CPU smoke run")
    device = torch.device("cpu" if args.quick else "cuda")
    copy_gbps = measure_ceilings()["copy_gbps"] if device.type == "cuda" else None
    shapes = QUICK_SHAPES if args.quick else {name: SHAPES[name] for name in args.shapes}
    rows = []
    for (name, (tokens, heads)), prompt in itertools.product(shapes.items(), args.prompt_tokens):
        rows += measure_case(name, tokens, heads, prompt, device, args.sweep, copy_gbps)
    print_table(rows, ["shape", "prompt", "keys", "impl", "block_m", "block_n", "num_warps", "max_registers", "ms", "gbps",
                       "x_floor", "speedup", "max_rel"])  # fmt: skip
    if args.json:
        write_json(args.json, dict(env=environment(), copy_gbps=copy_gbps, rows=rows))
        print(f"wrote {args.json}")


if __name__ == "__main__":
    main()
