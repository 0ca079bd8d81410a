"""Where the default model's first generation in a process goes on a GPU: build the "builtin" pipeline, time
two calls, the first under cProfile (top functions by cumulative and by own time).

    PYTHONPATH=/tmp/site:. python benchmarks/runs/h100-2026-12-05b/device_scripts/first_call.py

Run it twice with one TRITON_CACHE_DIR: the second process is what a user's later `generate` pays.
"""

import cProfile
import pstats
import time

import torch

from turbodiffusion.pipelines.pipeline import TurboPipeline


def main() -> None:
    start = time.perf_counter()
    pipe = TurboPipeline.from_pretrained("builtin")
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    print(f"build {time.perf_counter() - start:.3f} s", flush=True)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.enable()
    first = pipe("a red circle moving right", seed=0, progress=False)
    profile.disable()
    print(f"first {time.perf_counter() - start:.3f} s {first.timings}", flush=True)
    start = time.perf_counter()
    second = pipe("a blue square moving left", seed=0, progress=False)
    print(f"second {time.perf_counter() - start:.3f} s {second.timings}", flush=True)
    stats = pstats.Stats(profile)
    stats.sort_stats("cumulative").print_stats(60)
    stats.sort_stats("tottime").print_stats(30)


if __name__ == "__main__":
    main()
