"""Whole Turbo forwards with cuBLASLt's default workspace against none (CUBLASLT_WORKSPACE_SIZE=0).

gemm_memset_probe.py (this run): with any workspace every FP8 row-wise GEMM comes with one memset (its
"bz" kernels); with none, cuBLASLt picks their "ssched" twins and no memset, alone as fast or ~1% faster.
PyTorch reads the variable once a process, so each arm is its own process: one random model at the preset's
shape (FP8-fast linears, fused ops, SageSLA top-k 0.1), a CUDA graph, ``--rounds`` rounds of ``--reps``
replays; the processes alternate (A B A B ...) so that clock drift hits both arms alike. Each process also
counts the memsets of one eager forward (profiler) and saves its output, to compare the arms' outputs.

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06b/device_scripts/workspace_forward_ab.py \
        wan2.1-t2v-1.3b 480p --procs 2 --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile

ARMS = {"default": {}, "workspace_0": {"CUBLASLT_WORKSPACE_SIZE": "0"}}


def child(preset: str, resolution: str, rounds: int, reps: int, out: str) -> None:
    import torch
    from e2e_stages import GraphForward, build_dit, dit_shape, random_dit_inputs, time_calls
    from forward_ab import median
    from torch.profiler import ProfilerActivity, profile

    from turbodiffusion.attention import AttentionConfig
    from turbodiffusion.models.wan.config import dit_preset

    device = torch.device("cuda")
    shape = dit_shape(dit_preset(preset), resolution, 81, None)
    x, t, context, y = random_dit_inputs(shape, device)
    model = build_dit(shape.cfg, AttentionConfig(backend="sagesla", sla_topk=0.1), device, "fp8row-fast")
    model.enable_fused_ops(True)
    with torch.no_grad():
        model(x, t, context, y)
        torch.cuda.synchronize()
        with profile(activities=[ProfilerActivity.CUDA]) as prof:
            model(x, t, context, y)
            torch.cuda.synchronize()
    events = [e for e in prof.events() if e.device_type.name == "CUDA"]
    memsets = sum("memset" in e.name.lower() for e in events)
    graph = GraphForward(model, x, t, context, y)
    output = graph(x, t).float().cpu().clone()
    ms = []
    for _ in range(rounds):
        ms += time_calls(lambda: graph(x, t), reps, device)
    torch.save(output, out + ".pt")
    with open(out, "w") as f:
        json.dump(dict(ms=median(ms), all=ms, memsets=memsets, kernels=len(events)), f)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("preset")
    parser.add_argument("resolution")
    parser.add_argument("--procs", type=int, default=2, help="processes an arm, alternated")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--reps", type=int, default=8)
    parser.add_argument("--json", required=True)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.preset, args.resolution, args.rounds, args.reps, args.child)
        return
    import torch
    from forward_ab import median

    tmp = tempfile.mkdtemp()
    runs: dict[str, list[dict]] = {arm: [] for arm in ARMS}
    outputs: dict[str, list] = {arm: [] for arm in ARMS}
    for proc in range(args.procs):
        for arm, env in ARMS.items():
            part = os.path.join(tmp, f"{arm}_{proc}.json")
            cmd = [sys.executable, __file__, args.preset, args.resolution, "--rounds", str(args.rounds)]
            cmd += ["--reps", str(args.reps), "--json", "-", "--child", part]
            res = subprocess.run(cmd, env={**os.environ, **env}, capture_output=True, text=True, timeout=400)
            if res.returncode != 0:
                print(f"{arm} process {proc}: rc {res.returncode}\n{res.stderr[-3000:]}", flush=True)
                continue
            with open(part) as f:
                runs[arm].append(json.load(f))
            outputs[arm].append(torch.load(part + ".pt", weights_only=True))
            print(f"{arm} process {proc}: {runs[arm][-1]['ms']:.2f} ms, {runs[arm][-1]['memsets']} memsets",
                  flush=True)  # fmt: skip
    med = {arm: median([t for r in rs for t in r["all"]]) for arm, rs in runs.items() if rs}
    row = dict(
        preset=args.preset,
        resolution=args.resolution,
        ms=med,
        per_process_ms={arm: [r["ms"] for r in rs] for arm, rs in runs.items()},
        memsets_a_forward={arm: [r["memsets"] for r in rs] for arm, rs in runs.items()},
        speedup={arm: med["default"] / v for arm, v in med.items()} if "default" in med else {},
    )

    def rel_l2(a, b):
        return ((b - a).norm() / a.norm()).item()

    # Each arm's first output against the default's, and each later process's against its arm's first:
    # whether the arms differ more than two processes of one arm do.
    first = {arm: outs[0] for arm, outs in outputs.items() if outs}
    if len(first) == 2:
        row["rel_l2_workspace_0"] = rel_l2(first["default"], first["workspace_0"])
        row["equal"] = bool(torch.equal(first["default"], first["workspace_0"]))
    row["rel_l2_within_arm"] = {arm: [rel_l2(outs[0], o) for o in outs[1:]] for arm, outs in outputs.items()}
    print(json.dumps(row), flush=True)
    with open(args.json, "w") as f:
        json.dump(row, f, indent=1)


if __name__ == "__main__":
    main()
