"""The pipeline with and without kept CUDA graphs (``cuda_graphs=True``), alternated on one pipeline.

    PYTHONPATH=.:benchmarks python benchmarks/pipeline_graphs.py --json results/pipeline_graphs.json

What ``generate`` runs at a real shape with random weights (benchmarks/pipeline_random.py's pipeline:
default 1.3B, 832x480, 81 frames, 4 rCM steps, SageSLA top-k 0.1, FP8 row-wise W8A8, fused kernels). One
eager call warms everything up; then the first graphed call (it captures the graphs: its extra cost is
reported); then ``--rounds`` rounds of one eager and one graphed call each (order alternating, a new seed
and prompt each round), both of the same request, whose frames must be equal. Prints the medians and the
graphed/eager ratios, and writes every call to JSON. The baseline is the eager pipeline of the same run.
"""

from __future__ import annotations

import argparse
import statistics

import torch
from common import environment, print_table, write_json
from pipeline_random import add_request_arguments, random_pipeline

from turbodiffusion.pipelines.forward_graphs import ForwardGraphs
from turbodiffusion.pipelines.presets import parse_resolution

PROMPTS = ("a red circle moving right", "a blue square falling", "two green dots orbiting each other")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_request_arguments(parser)
    parser.add_argument("--attention", default="sagesla")
    parser.add_argument("--quant", default="fp8-row", help="none, int8 or fp8-row")
    parser.add_argument("--rounds", type=int, default=4)
    parser.add_argument("--json", default="results/pipeline_graphs.json")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("this benchmark needs a CUDA GPU")
    pipe = random_pipeline(args.preset, args.attention, args.sla_topk, args.quant)
    graphs = ForwardGraphs()
    width, height = parse_resolution(args.resolution)

    def call(variant: str, seed: int) -> tuple[dict, torch.Tensor]:
        pipe.graphs = graphs if variant == "graphed" else None
        torch.cuda.reset_peak_memory_stats()
        out = pipe(
            PROMPTS[seed % len(PROMPTS)], num_frames=args.frames, height=height, width=width,
            steps=args.steps, seed=seed, progress=False,
        )  # fmt: skip
        t = out.timings
        row = {
            "variant": variant, "seed": seed, "text_s": t.text_encoding, "steps_s": t.sampling,
            "step_s": list(t.steps), "decode_s": t.decode, "total_s": t.total,
            "peak_gib": torch.cuda.max_memory_allocated() / 2**30,
        }  # fmt: skip
        print(f"{variant} seed {seed}: {t.summary()} | peak {row['peak_gib']:.2f} GiB", flush=True)
        return row, out.frames

    warm, _ = call("eager", 0)
    first, _ = call("graphed", 0)
    calls, equal = [], []
    for r in range(1, args.rounds + 1):
        order = ("eager", "graphed") if r % 2 else ("graphed", "eager")
        (a, fa), (b, fb) = (call(v, r) for v in order)
        calls += [a, b]
        equal.append(bool(torch.equal(fa, fb)))
    summary = []
    for variant in ("eager", "graphed"):
        mine = [c for c in calls if c["variant"] == variant]
        med = {k: statistics.median(c[k] for c in mine) for k in ("text_s", "steps_s", "decode_s", "total_s")}
        summary.append({"variant": variant, **med, "peak_gib": max(c["peak_gib"] for c in mine)})
    eager, graphed = summary
    for key in ("steps_s", "total_s"):
        graphed[f"{key}_speedup"] = eager[key] / graphed[key]
    capture_cost_s = first["steps_s"] - eager["steps_s"]
    print_table(summary, ["variant", "text_s", "steps_s", "decode_s", "total_s", "peak_gib", "steps_s_speedup",
                          "total_s_speedup"])  # fmt: skip
    print(
        f"first graphed call: steps {first['steps_s']:.3f} s ({capture_cost_s:+.3f} s against an eager call: "
        f"the captures); warm-up eager call {warm['steps_s']:.3f} s; graphs' pool "
        f"{graphs.pool_bytes / 2**30:.2f} GiB; frames equal in {sum(equal)} of {len(equal)} rounds"
    )
    write_json(args.json, {
        "env": environment(), "args": vars(args), "summary": summary, "warmup": warm, "first_graphed": first,
        "capture_cost_s": capture_cost_s, "pool_gib": graphs.pool_bytes / 2**30, "frames_equal": equal,
        "calls": calls,
    })  # fmt: skip


if __name__ == "__main__":
    main()
