"""The row-scaled FP8 GEMM (fast accumulation, bf16 out, bf16 bias: Fp8RowLinear's) at every Wan block linear
shape, and q, k, v as one GEMM of 3 x dim outputs against three of dim. TFLOP/s a shape; fused against
separate: time ratio and the largest difference between the fused output and the three outputs side by side.

    PYTHONPATH=.:benchmarks python benchmarks/runs/gpu-2026-12-06e/device_scripts/gemm_shapes.py OUT.json
"""

import os
import sys
from functools import partial

os.environ.setdefault("CUBLASLT_WORKSPACE_SIZE", "0")  # as generate and e2e.py run

import torch  # noqa: E402
from common import environment, time_ms, write_json  # noqa: E402

SHAPES = {
    "1.3b-480p": (32760, 1536, 8960),
    "14b-480p": (32760, 5120, 13824),
    "14b-720p": (75600, 5120, 13824),
}


def fp8(rows: int, cols: int, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    x = torch.randn(rows, cols, generator=gen, device="cuda") * 0.5
    return x.clamp(-448, 448).to(torch.float8_e4m3fn), torch.rand(rows, generator=gen, device="cuda") + 0.5


def gemm(a, sa, w, sw, bias):
    return torch._scaled_mm(
        a, w.t(), scale_a=sa.view(-1, 1), scale_b=sw.view(1, -1), bias=bias, out_dtype=torch.bfloat16,
        use_fast_accum=True,
    )  # fmt: skip


def separate_qkv(a, sa, ws, bs):
    return [gemm(a, sa, w, s, b) for (w, s), b in zip(ws, bs)]


def main() -> int:
    gen = torch.Generator(device="cuda").manual_seed(0)
    rows = []
    for name, (m, dim, ffn) in SHAPES.items():
        a, sa = fp8(m, dim, gen)
        h, sh = fp8(m, ffn, gen)
        linears = {"qkvo": (dim, a, sa), "ffn_up": (ffn, a, sa), "ffn_down": (dim, h, sh)}
        for lname, (n, x, sx) in linears.items():
            w, sw = fp8(n, x.shape[1], gen)
            bias = torch.randn(n, generator=gen, device="cuda").bfloat16()
            ms = time_ms(partial(gemm, x, sx, w, sw, bias))[0]
            rows.append(dict(shape=name, linear=lname, m=m, n=n, k=x.shape[1], ms=ms,
                             tflops=2 * m * n * x.shape[1] / ms / 1e9))  # fmt: skip
            print(rows[-1], flush=True)
        ws = [fp8(dim, dim, gen) for _ in range(3)]
        bs = [torch.randn(dim, generator=gen, device="cuda").bfloat16() for _ in range(3)]
        wf, swf = torch.cat([w for w, _ in ws]), torch.cat([s for _, s in ws])
        bf = torch.cat(bs)

        separate = partial(separate_qkv, a, sa, ws, bs)
        fused = partial(gemm, a, sa, wf, swf, bf)
        sep_ms, fused_ms = time_ms(separate)[0], time_ms(fused)[0]
        diff = (fused().float() - torch.cat(separate(), dim=1).float()).abs().max().item()
        rows.append(dict(shape=name, linear="qkv", separate_ms=sep_ms, fused_ms=fused_ms,
                         speedup=sep_ms / fused_ms, max_abs_diff=diff,
                         fused_tflops=2 * m * 3 * dim * dim / fused_ms / 1e9))  # fmt: skip
        print(rows[-1], flush=True)
        del a, h
        torch.cuda.empty_cache()
    write_json(sys.argv[1], {"env": environment(), "rows": rows})
    return 0


if __name__ == "__main__":
    sys.exit(main())
