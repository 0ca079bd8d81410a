"""Device experiment (2026-12-02e call 2): GELU epilogue and VAE head-conv candidates, timed in isolation.

(Lint-fixed after the run: loop variables bound as lambda defaults, imports split; same behaviour.)
"""

import json
import sys

import torch
import torch.nn.functional as F
from triton.testing import do_bench

out = {}
dev = "cuda"
torch.manual_seed(0)
# 1. FFN up + GELU(tanh): F.linear then F.gelu vs torch._addmm_activation (cuBLASLt GELU_BIAS epilogue)
for name, (m, k, n) in {"1.3b": (32760, 1536, 8960), "14b-720p": (75600, 5120, 13824)}.items():
    x = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
    w = torch.randn(n, k, device=dev, dtype=torch.bfloat16) / k**0.5
    b = torch.randn(n, device=dev, dtype=torch.bfloat16) * 0.02
    ref = F.gelu(F.linear(x, w, b), approximate="tanh")
    fused = torch._addmm_activation(b, x, w.t(), use_gelu=True)
    err = ((fused.float() - ref.float()).norm() / ref.float().norm()).item()
    t_ref = do_bench(lambda x=x, w=w, b=b: F.gelu(F.linear(x, w, b), approximate="tanh"), warmup=50, rep=300)
    t_lin = do_bench(lambda x=x, w=w, b=b: F.linear(x, w, b), warmup=50, rep=300)
    t_fused = do_bench(
        lambda x=x, w=w, b=b: torch._addmm_activation(b, x, w.t(), use_gelu=True), warmup=50, rep=300
    )
    out[f"gelu/{name}"] = {
        "linear+gelu_ms": t_ref,
        "linear_ms": t_lin,
        "addmm_activation_ms": t_fused,
        "rel_l2": err,
    }
    print(name, out[f"gelu/{name}"], flush=True)
    del x, w, b, ref, fused
# 2. VAE head conv 96 -> 3 (3x3x3) at 480p, 21 frames of a chunk-sized input, channels-last: 3 vs padded 16 outputs
cl = torch.channels_last_3d
for t in (22, 82):
    x = torch.randn(1, 96, t, 480, 832, device=dev, dtype=torch.bfloat16).contiguous(memory_format=cl)
    for cout in (3, 8, 16):
        conv = torch.nn.Conv3d(96, cout, 3, padding=(0, 1, 1)).to(dev, torch.bfloat16).to(memory_format=cl)
        ms = do_bench(lambda conv=conv, x=x: conv(x), warmup=20, rep=200)
        out[f"head_conv/t{t}/cout{cout}"] = ms
        print("head conv t", t, "cout", cout, ms, flush=True)
    # time_conv-like 3x1x1 convs and 1x1x1 for scale
    del x
    torch.cuda.empty_cache()
json.dump(out, open(sys.argv[1], "w"), indent=1)
