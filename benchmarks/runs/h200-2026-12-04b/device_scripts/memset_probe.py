"""Where the memset before each row-wise FP8 GEMM comes from (03h's 1.3B profile: 240 a forward, 0.2 ms of
memsets and 0.69 ms of idle gaps after them). torch._scaled_mm with row-wise scales at the 1.3B q/k/v/o shape
(32,760 x 1,536 x 1,536) and the FFN-up shape (x 8,960), with and without the bias, plain and fast
accumulation: memsets a call (torch.profiler) and ms a call in a CUDA graph of 20 calls.

    PYTHONPATH=.:benchmarks python benchmarks/runs/h200-2026-12-04b/device_scripts/memset_probe.py OUT.json
"""

from __future__ import annotations

import itertools
import json
import sys

import torch

SHAPES = [(32760, 1536, 1536), (32760, 1536, 8960)]


def main(out_path: str) -> None:
    dev = torch.device("cuda")
    rows = []
    for (m, k, n), bias_on, fast in itertools.product(SHAPES, (True, False), (False, True)):
        a = torch.randn(m, k, device=dev).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device=dev).to(torch.float8_e4m3fn)
        sa, sb = torch.rand(m, 1, device=dev) + 0.5, torch.rand(1, n, device=dev) + 0.5
        bias = torch.randn(n, device=dev).to(torch.bfloat16) if bias_on else None

        def call(a=a, b=b, sa=sa, sb=sb, bias=bias, fast=fast):
            return torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, bias=bias, out_dtype=torch.bfloat16,
                                    use_fast_accum=fast)  # fmt: skip

        for _ in range(3):
            call()
        torch.cuda.synchronize()
        with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as p:
            for _ in range(5):
                call()
            torch.cuda.synchronize()
        names = [e.name for e in p.events() if e.device_type == torch.autograd.DeviceType.CUDA]
        memsets = sum("memset" in nm.lower() for nm in names) / 5
        kernels = sorted({nm[:90] for nm in names})
        g = torch.cuda.CUDAGraph()
        s = torch.cuda.Stream()
        s.wait_stream(torch.cuda.current_stream())
        with torch.cuda.stream(s):
            call()
        torch.cuda.current_stream().wait_stream(s)
        with torch.cuda.graph(g):
            for _ in range(20):
                call()
        start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        g.replay()
        times = []
        for _ in range(5):
            start.record()
            g.replay()
            end.record()
            torch.cuda.synchronize()
            times.append(start.elapsed_time(end) / 20)
        row = {"m": m, "k": k, "n": n, "bias": bias_on, "fast": fast, "memsets_per_call": memsets,
               "ms": sorted(times)[2], "kernels": kernels}  # fmt: skip
        print(json.dumps(row), flush=True)
        rows.append(row)
    with open(out_path, "w") as f:
        json.dump({"torch": torch.__version__, "rows": rows}, f, indent=1)


if __name__ == "__main__":
    main(sys.argv[1])
