"""Where do the memsets before every cuBLASLt GEMM of a forward come from (240 a 1.3B-480p forward, ~0.9 ms
with their gaps in its CUDA graph: h200-2026-12-03d's profile)? One process per variant (cuBLASLt reads its
environment once): count the memsets around torch._scaled_mm / torch.mm at Wan 1.3B's shapes under the
profiler and time a CUDA graph of 20 calls, with the default workspace and with variants of it and of the call.

    python benchmarks/runs/gpu-2026-12-06/device_scripts/gemm_memset_probe.py --json OUT.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys

SHAPES = [(32760, 1536, 1536), (32760, 1536, 8960), (32760, 8960, 1536)]  # M, K, N: q/k/v/o, FFN up, down
VARIANTS = {
    "default": {},
    "workspace_0": {"CUBLASLT_WORKSPACE_SIZE": "0"},
    "workspace_1mib": {"CUBLASLT_WORKSPACE_SIZE": "1024"},
    "workspace_64mib": {"CUBLASLT_WORKSPACE_SIZE": "65536"},
}


def _calls(a, b, sa, sb, bias) -> dict:
    """The GEMMs of a forward's linears on one shape: FP8 row-wise with and without bias, and bf16."""
    import torch

    a16, b16 = a.to(torch.bfloat16), b.to(torch.bfloat16)
    return {
        "fp8_row_bias_fast": lambda: torch._scaled_mm(
            a, b.t(), scale_a=sa, scale_b=sb, bias=bias, out_dtype=torch.bfloat16, use_fast_accum=True
        ),
        "fp8_row_nobias_fast": lambda: torch._scaled_mm(
            a, b.t(), scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16, use_fast_accum=True
        ),
        "bf16_linear_bias": lambda: torch.nn.functional.linear(a16, b16, bias),
    }


def measure(kind: str) -> list[dict]:
    import torch
    from torch.profiler import ProfilerActivity, profile

    rows = []
    for m, k, n in SHAPES:
        a = torch.randn(m, k, device="cuda").to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device="cuda").to(torch.float8_e4m3fn)
        sa = torch.rand(m, 1, device="cuda") + 0.5
        sb = torch.rand(1, n, device="cuda") + 0.5
        bias = torch.randn(n, device="cuda", dtype=torch.bfloat16)
        calls = _calls(a, b, sa, sb, bias)
        for name, fn in calls.items():
            for _ in range(3):
                fn()
            torch.cuda.synchronize()
            with profile(activities=[ProfilerActivity.CUDA]) as prof:
                for _ in range(5):
                    fn()
                torch.cuda.synchronize()
            events = [e for e in prof.events() if e.device_type.name == "CUDA"]
            memsets = [e for e in events if "memset" in e.name.lower()]
            kernels = sorted({e.name[:90] for e in events if "memset" not in e.name.lower()})
            graph = torch.cuda.CUDAGraph()
            stream = torch.cuda.Stream()
            with torch.cuda.stream(stream):
                fn()
                with torch.cuda.graph(graph, stream=stream):
                    for _ in range(20):
                        fn()
            torch.cuda.synchronize()
            times = []
            for _ in range(5):
                start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                start.record()
                graph.replay()
                end.record()
                torch.cuda.synchronize()
                times.append(start.elapsed_time(end) / 20)
            rows.append(
                dict(
                    variant=kind,
                    shape=[m, k, n],
                    call=name,
                    memsets_per_call=len(memsets) / 5,
                    memset_us=sum(e.time_range.elapsed_us() for e in memsets) / 5,
                    kernels=kernels,
                    graph_ms_per_call=sorted(times)[len(times) // 2],
                    graph_ms_all=times,
                )
            )
            print(json.dumps(rows[-1]), flush=True)
            del graph
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", required=True)
    parser.add_argument("--child", default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        with open(args.json, "w") as f:
            json.dump(measure(args.child), f)
        return
    results = {}
    for kind, env in VARIANTS.items():
        part = f"{args.json}.{kind}"
        proc = subprocess.run(
            [sys.executable, __file__, "--json", part, "--child", kind],
            env={**os.environ, **env},
            capture_output=True,
            text=True,
            timeout=240,
        )
        print(f"== {kind}: rc {proc.returncode}\n{proc.stdout[-6000:]}\n{proc.stderr[-3000:]}", flush=True)
        if proc.returncode == 0:
            with open(part) as f:
                results[kind] = json.load(f)
            os.remove(part)
        else:
            results[kind] = {"rc": proc.returncode, "stderr": proc.stderr[-3000:]}
    # One cuBLASLt API trace of the default FP8 call, for the workspace and algorithm it asks for.
    trace = subprocess.run(
        [
            sys.executable,
            "-c",
            "import torch; a=torch.randn(32760,1536,device='cuda').to(torch.float8_e4m3fn); "
            "s=torch.ones(32760,1,device='cuda'); t=torch.ones(1,1536,device='cuda'); "
            "torch._scaled_mm(a,a[:1536].t(),scale_a=s,scale_b=t,out_dtype=torch.bfloat16,use_fast_accum=True); "
            "torch.cuda.synchronize()",
        ],
        env={**os.environ, "CUBLASLT_LOG_LEVEL": "5"},
        capture_output=True,
        text=True,
        timeout=120,
    )
    results["lt_trace"] = (trace.stdout + trace.stderr)[-12000:]
    with open(args.json, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
