"""Device call 2 of 2026-12-03b: q, k and v as one row-scaled FP8 GEMM (N = 3 dim) against three (N = dim)."""

import json
import sys

import torch
from graph_timing import time_ms


def mm(a, sa, w, sw, bias, fast):
    return torch._scaled_mm(
        a, w.t(), scale_a=sa, scale_b=sw, bias=bias, out_dtype=torch.bfloat16, use_fast_accum=fast
    )


out = {}
for name, m, dim in (("1.3B-480p", 32760, 1536), ("14B-480p", 32760, 5120), ("14B-720p", 75600, 5120)):
    a = torch.randn(m, dim, device="cuda").to(torch.float8_e4m3fn)
    sa = torch.rand(m, 1, device="cuda") + 0.5
    ws = [torch.randn(dim, dim, device="cuda").to(torch.float8_e4m3fn) for _ in range(3)]
    ss = [torch.rand(1, dim, device="cuda") + 0.5 for _ in range(3)]
    bs = [torch.randn(dim, device="cuda").bfloat16() for _ in range(3)]
    w3, s3, b3 = torch.cat(ws), torch.cat(ss, dim=1), torch.cat(bs)
    row = {"m": m, "dim": dim}
    for fast in (False, True):
        three = time_ms(
            lambda f=fast, a=a, sa=sa, ws=ws, ss=ss, bs=bs: [
                mm(a, sa, w, s, b, f) for w, s, b in zip(ws, ss, bs)
            ]
        )
        one = time_ms(lambda f=fast, a=a, sa=sa, w3=w3, s3=s3, b3=b3: mm(a, sa, w3, s3, b3, f))
        same = torch.equal(
            torch.cat([mm(a, sa, w, s, b, fast) for w, s, b in zip(ws, ss, bs)], 1),
            mm(a, sa, w3, s3, b3, fast),
        )
        row["fast" if fast else "exact"] = {
            "three_ms": three,
            "one_ms": one,
            "ratio": three / one,
            "same": same,
        }
    out[name] = row
    print(name, row, flush=True)
# Which kernels one call launches (a memset came before every FP8 GEMM in the forward's profile).
a = torch.randn(4096, 1536, device="cuda").to(torch.float8_e4m3fn)
w = torch.randn(1536, 1536, device="cuda").to(torch.float8_e4m3fn)
sa, sw = torch.rand(4096, 1, device="cuda"), torch.rand(1, 1536, device="cuda")
bias = torch.randn(1536, device="cuda").bfloat16()
launches = {}
for label, b, fast in (("bias_fast", bias, True), ("bias_exact", bias, False), ("nobias_fast", None, True)):
    mm(a, sa, w, sw, b, fast)
    torch.cuda.synchronize()
    with torch.profiler.profile(activities=[torch.profiler.ProfilerActivity.CUDA]) as prof:
        mm(a, sa, w, sw, b, fast)
        torch.cuda.synchronize()
    launches[label] = [e.name for e in prof.events() if e.device_type == torch.autograd.DeviceType.CUDA]
    print(label, launches[label], flush=True)
out["launches"] = launches
json.dump(out, open(sys.argv[1], "w"), indent=1)
