"""Do the cyclic garbage collector's pauses slow the pipeline's eager steps? (call 2)

The eager pipeline's later calls took 0.16-0.21 s a 1.3B-480p step where the warm-up call's steps 2-4 took
0.148-0.151 s on the same machine (call 1). A full (generation 2) collection scans every tracked object: the
models' modules and parameters, the kernels' caches. This times each collection (``gc.callbacks``) during
alternated eager calls with the collector on (as now) and off during the call (``gc.disable()`` around it),
and the graphed pipeline with it on, and records which steps they fell in.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04c/device_scripts/gc_steps.py OUT.json
"""

from __future__ import annotations

import gc
import json
import statistics
import sys
import time

import torch
from pipeline_random import random_pipeline

from turbodiffusion.pipelines.forward_graphs import ForwardGraphs

ROUNDS = 4


def main(out_path: str) -> None:
    pipe = random_pipeline("wan2.1-t2v-1.3b", "sagesla", 0.1, "fp8-row")
    graphs = ForwardGraphs()
    pauses: list[tuple[int, float, float]] = []  # (generation, start, seconds)
    state: dict = {}

    def on_gc(phase: str, info: dict) -> None:
        if phase == "start":
            state["t"] = time.perf_counter()
        else:
            pauses.append((info["generation"], state["t"], time.perf_counter() - state["t"]))

    def call(variant: str, seed: int) -> dict:
        pipe.graphs = graphs if variant == "graphed" else None
        pauses.clear()
        was = gc.isenabled()
        if variant == "gc-off":
            gc.disable()
        t0 = time.perf_counter()
        try:
            out = pipe("a red circle moving right", num_frames=81, height=480, width=832, steps=4, seed=seed,
                       progress=False)  # fmt: skip
        finally:
            if was:
                gc.enable()
        t = out.timings
        row = {
            "variant": variant, "seed": seed, "steps_s": t.sampling, "step_s": list(t.steps),
            "total_s": t.total, "wall_s": time.perf_counter() - t0,
            "gc": [{"gen": g, "at_s": s - t0, "ms": d * 1e3} for g, s, d in pauses],
            "gc_ms": {str(g): sum(d for gg, _, d in pauses if gg == g) * 1e3 for g in (0, 1, 2)},
        }  # fmt: skip
        print(json.dumps({k: v for k, v in row.items() if k != "gc"}), flush=True)
        return row

    gc.callbacks.append(on_gc)
    warm = [call("gc-on", 0), call("graphed", 0)]
    tracked = len(gc.get_objects())
    print(f"tracked objects after warm-up: {tracked}", flush=True)
    calls = []
    for r in range(1, ROUNDS + 1):
        order = ("gc-on", "gc-off", "graphed") if r % 2 else ("graphed", "gc-off", "gc-on")
        calls += [call(v, r) for v in order]
    summary = {
        v: {
            "steps_s": statistics.median(c["steps_s"] for c in calls if c["variant"] == v),
            "total_s": statistics.median(c["total_s"] for c in calls if c["variant"] == v),
            "gen2_ms_per_call": statistics.mean(c["gc_ms"]["2"] for c in calls if c["variant"] == v),
            "gen2_count_per_call": statistics.mean(
                sum(1 for p in c["gc"] if p["gen"] == 2) for c in calls if c["variant"] == v
            ),
        }
        for v in ("gc-on", "gc-off", "graphed")
    }
    print(json.dumps(summary, indent=1), flush=True)
    with open(out_path, "w") as f:
        json.dump({"tracked_objects": tracked, "summary": summary, "warm": warm, "calls": calls,
                   "torch": torch.__version__, "python": sys.version}, f, indent=1)  # fmt: skip


if __name__ == "__main__":
    main(sys.argv[1])
