"""Seconds to compile the SLA backward's dQ or dK/dV kernel for sm_90 on fp32 (PRECISION "ieee") inputs at
D = 128 (BLKQ 128, BLKK 64), without a GPU: Triton ships ptxas. Run on the CPU machine, not the device:

    TRITON_DEFAULT_FP_FUSION=1 python benchmarks/runs/h200-2026-12-04c/local_scripts/sla_bwd_compile_time.py \
        dkdv BLOCK_M NUM_WARPS
"""

from __future__ import annotations

import sys
import time

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from turbodiffusion.attention.sla import kernel_bwd as kb

KERNELS = {
    "dq": (
        kb._sla_bwd_dq_kernel,
        dict(Q="*fp32", K="*fp32", V="*fp32", DO="*fp32", LUT="*i32", LSE="*fp32", DELTA="*fp32",
             DQLIN="*fp32", DQ="*fp32", H="i32", L="i32", MQ="i32", TOPK="i32"),
    ),
    "dkdv": (
        kb._sla_bwd_dkdv_kernel,
        dict(Q="*fp32", K="*fp32", V="*fp32", DO="*fp32", QLUT="*i32", QCOUNT="*i32", LSE="*fp32",
             DELTA="*fp32", DKV="*fp32", DKSUM="*fp32", DK="*fp32", DV="*fp32", H="i32", L="i32", NK="i32",
             MQ="i32"),
    ),
}  # fmt: skip


def main(which: str, block_m: int, warps: int) -> None:
    fn, sig = KERNELS[which]
    sig = dict(sig, qk_scale="fp32", sm_scale="fp32")
    for name in fn.arg_names:  # the strides
        sig.setdefault(name, "i32")
    const = dict(D=128, BLKQ=128, BLKK=64, BLOCK_M=block_m, PRECISION="ieee", WIDE=False)
    sig.update(dict.fromkeys(const, "constexpr"))
    sig = {name: sig[name] for name in fn.arg_names}
    start = time.time()
    compiled = triton.compile(
        ASTSource(fn, sig, const),
        target=GPUTarget("cuda", 90, 32),
        options=dict(num_warps=warps, num_stages=1),
    )
    print(
        f"{which} BLOCK_M {block_m} warps {warps}: {time.time() - start:.1f} s, cubin {len(compiled.asm['cubin'])} B"
    )


if __name__ == "__main__":
    main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]))
