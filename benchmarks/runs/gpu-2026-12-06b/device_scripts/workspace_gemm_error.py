"""One FP8 row-wise GEMM per 1.3B shape (fast accumulation, bias, bf16 out) with cuBLASLt's default workspace
and with none (a process each: PyTorch reads CUBLASLT_WORKSPACE_SIZE once), each output's rel L2 to the same
product in float64, and whether the two settings' outputs are equal.

    PYTHONPATH=. python benchmarks/runs/gpu-2026-12-06b/device_scripts/workspace_gemm_error.py
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile

SHAPES = [(32760, 1536, 1536), (32760, 1536, 8960), (32760, 8960, 1536)]  # M, K, N


def child(path: str) -> None:
    import torch

    outs = {}
    for m, k, n in SHAPES:
        g = torch.Generator("cuda").manual_seed(m + k + n)
        a = torch.randn(m, k, device="cuda", generator=g).to(torch.float8_e4m3fn)
        b = torch.randn(n, k, device="cuda", generator=g).to(torch.float8_e4m3fn)
        sa = torch.rand(m, 1, device="cuda", generator=g) + 0.5
        sb = torch.rand(1, n, device="cuda", generator=g) + 0.5
        bias = torch.randn(n, device="cuda", generator=g).to(torch.bfloat16)
        y = torch._scaled_mm(a, b.t(), scale_a=sa, scale_b=sb, bias=bias, out_dtype=torch.bfloat16,
                             use_fast_accum=True)  # fmt: skip
        ref = (a.double() * sa.double()) @ (b.double() * sb.double().t()).t() + bias.double()
        outs[f"{m}x{k}x{n}"] = dict(rel_l2=((y.double() - ref).norm() / ref.norm()).item(), y=y.cpu())
    torch.save({key: v["y"] for key, v in outs.items()}, path + ".pt")
    with open(path, "w") as f:
        json.dump({key: v["rel_l2"] for key, v in outs.items()}, f)


def main() -> None:
    if len(sys.argv) > 2 and sys.argv[1] == "--child":
        child(sys.argv[2])
        return
    import torch

    tmp = tempfile.mkdtemp()
    res, ys = {}, {}
    for arm, env in {"default": {}, "workspace_0": {"CUBLASLT_WORKSPACE_SIZE": "0"}}.items():
        path = os.path.join(tmp, arm + ".json")
        subprocess.run([sys.executable, __file__, "--child", path], env={**os.environ, **env}, check=True)
        with open(path) as f:
            res[arm] = json.load(f)
        ys[arm] = torch.load(path + ".pt", weights_only=True)
    res["equal"] = {
        key: bool(torch.equal(ys["default"][key], ys["workspace_0"][key])) for key in ys["default"]
    }
    print(json.dumps(res), flush=True)


if __name__ == "__main__":
    main()
