"""A new process's first generation: what compiling and autotuning the kernels add, with and without the
autotune timings that kernel_device.autotune keeps in Triton's on-disk cache.

    PYTHONPATH=. python benchmarks/cold_start.py --preset wan2.1-t2v-1.3b --resolution 832x480 \
        --attention sagesla --quant fp8-row-fast --json results/cold_start.json
    PYTHONPATH=. python benchmarks/cold_start.py --preset builtin --json results/cold_start_builtin.json
    PYTHONPATH=. python benchmarks/cold_start.py --quick --json /tmp/cold_start.json   # CPU smoke

Every ``turbodiffusion generate`` is a new process. Each arm below starts one (a child of this script) with
its own Triton cache folder (TRITON_CACHE_DIR) in a given state, builds the random-weight pipeline of
benchmarks/pipeline_random.py (as generate runs it on a GPU) and times two calls alike (two prompts, one
seed); the first call's excess over the second is what the process paid to get its kernels ready:
    cold        an empty cache folder: every kernel compiled, every tuned kernel benchmarked;
    warm        the folder the cold process left: kernels and autotune timings read from disk;
    no-timings  that folder without its ``*.autotune.json`` files: kernels read from disk, every tuned
                kernel benchmarked again, which is what each new process paid before the timings were kept.
The ratio column is each arm's excess against no-timings'; ``process_s`` is the child's whole life (start-up,
imports, loading, both calls), as a user's command would see it. ``--preset builtin`` times the main
command's own model (the shipped default model, its own attention, quantisation and video size; the
shape arguments are ignored), on the GPU when there is one, else on the CPU. ``--quick`` runs the built-in
random model on the CPU, where nothing is compiled or tuned: it checks the script, not a speed.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import torch
from common import environment, print_table, write_json

ARMS = ("cold", "warm", "no-timings")


def child(args: argparse.Namespace) -> dict:
    """Build the pipeline and time two calls alike in this process (the Triton cache folder is the
    parent's choice); the result as a dict."""
    from turbodiffusion.pipelines.pipeline import TurboPipeline
    from turbodiffusion.pipelines.presets import parse_resolution

    start = time.perf_counter()
    if args.quick:
        pipe = TurboPipeline.from_pretrained("builtin-random", device="cpu")
        request = dict(num_frames=5, height=48, width=64)
    elif args.preset == "builtin":
        pipe = TurboPipeline.from_pretrained("builtin")
        request = {}
    else:
        from pipeline_random import random_pipeline

        pipe = random_pipeline(args.preset, args.attention, args.sla_topk, args.quant)
        width, height = parse_resolution(args.resolution)
        request = dict(num_frames=args.frames, height=height, width=width)
    build_s = time.perf_counter() - start
    calls = []
    # Two prompts: the pipeline keeps the contexts of prompts it has encoded (PromptCache), and both calls
    # must encode theirs. The same seed: the same work otherwise.
    for prompt in ("a red circle moving right", "a blue square moving left"):
        t = pipe(prompt, seed=0, progress=False, **request).timings
        calls.append(
            {"text_s": t.text_encoding, "steps_s": t.sampling, "decode_s": t.decode, "total_s": t.total}
        )
    return {"build_s": build_s, "first": calls[0], "second": calls[1]}


def run_arm(args: argparse.Namespace, cache: Path) -> dict:
    """One child process with TRITON_CACHE_DIR=cache; its result."""
    command = [sys.executable, __file__, "--child", "--preset", args.preset, "--resolution", args.resolution,
               "--frames", str(args.frames), "--attention", args.attention, "--quant", args.quant,
               "--sla-topk", str(args.sla_topk)] + (["--quick"] if args.quick else [])  # fmt: skip
    env = {**os.environ, "TRITON_CACHE_DIR": str(cache)}
    start = time.perf_counter()
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=args.timeout)
    process_s = time.perf_counter() - start
    if result.returncode != 0:
        raise SystemExit(f"child process failed:\n{result.stderr[-4000:]}")
    return {**json.loads(result.stdout.strip().splitlines()[-1]), "process_s": process_s}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--preset", default="wan2.1-t2v-1.3b", help='DiT shape preset, or "builtin" (the default model)'
    )
    parser.add_argument("--resolution", default="832x480", help="WxH")
    parser.add_argument("--frames", type=int, default=81)
    parser.add_argument("--attention", default="sagesla")
    parser.add_argument("--quant", default="fp8-row-fast", help="a W8A8 mode of generate --quant, or none")
    parser.add_argument("--sla-topk", type=float, default=0.1)
    parser.add_argument("--timeout", type=int, default=400, help="seconds a child process may take")
    parser.add_argument(
        "--quick", action="store_true", help="the built-in random model on the CPU: a smoke run"
    )
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    parser.add_argument("--json", default="results/cold_start.json")
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(args)))
        return
    if not args.quick and args.preset != "builtin" and not torch.cuda.is_available():
        raise SystemExit(
            "this benchmark needs a CUDA GPU (but for --preset builtin); use --quick for the CPU smoke run"
        )
    rows = []
    with tempfile.TemporaryDirectory(prefix="triton_cache_") as folder:
        cache = Path(folder)
        for arm in ARMS:
            if arm == "no-timings":
                for path in cache.rglob("*.autotune.json"):
                    path.unlink()
            result = run_arm(args, cache)
            first, second = result["first"], result["second"]
            rows.append({
                "arm": arm, "process_s": result["process_s"], "build_s": result["build_s"],
                "first_total_s": first["total_s"],
                "second_total_s": second["total_s"], "excess_s": first["total_s"] - second["total_s"],
                "first_steps_s": first["steps_s"], "first_decode_s": first["decode_s"],
                "autotune_files": len(list(cache.rglob("*.autotune.json"))), "calls": result,
            })  # fmt: skip
            print(f"{arm}: first call {first['total_s']:.2f} s, second {second['total_s']:.2f} s", flush=True)
    base = rows[-1]["excess_s"]
    for row in rows:
        row["excess_vs_no_timings"] = row["excess_s"] / base if base > 0 else None
    print_table(rows, ["arm", "process_s", "build_s", "first_total_s", "second_total_s", "excess_s", "excess_vs_no_timings",
                       "autotune_files"])  # fmt: skip
    write_json(args.json, {"env": environment(), "args": vars(args), "rows": rows})


if __name__ == "__main__":
    main()
