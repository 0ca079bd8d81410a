"""Shared memory of the INT8 / FP8 GEMM's fixed launch (quant/gemm/kernel.py, untuned: BM 128, 8 warps) when
compiled for another GPU architecture, on a machine without a GPU (Triton ships ptxas).

    python benchmarks/runs/cpu-2026-12-04g/local_scripts/gemm_smem_probe.py ARCH STAGES BM FP8
    python benchmarks/runs/cpu-2026-12-04g/local_scripts/gemm_smem_probe.py 89 4 128 0   # 98304 bytes

A frozen record of cpu-2026-12-04g's probe (sm_86 / sm_89 allow 101,376 bytes a block).
"""

import sys

import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource

from turbodiffusion.quant.gemm import kernel

arch, stages, bm, fp8 = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3]), bool(int(sys.argv[4]))
fn = kernel._scaled_mm_kernel
ab = "fp8e4nv" if fp8 else "i8"
sig = dict(a_ptr="*" + ab, as_ptr="*fp32", b_ptr="*" + ab, bs_ptr="*fp32", bias_ptr="*bf16", c_ptr="*bf16",
           M="i32", N="i32", K="i32", stride_am="i32", stride_bn="i32", stride_cm="i32", stride_asr="i32",
           stride_ask="i32")  # fmt: skip
const = dict(A_TILE_ROWS=1 if fp8 else 128, HAS_BIAS=True, IS_FP8=fp8, BM=bm, GROUP_M=8, FOLD_LAG=0)
sig.update(dict.fromkeys(const, "constexpr"))
aligned = ("a_ptr", "b_ptr", "c_ptr", "K", "stride_am", "stride_bn", "stride_cm")
attrs = {(fn.arg_names.index(n),): [["tt.divisibility", 16]] for n in aligned}
options = dict(num_warps=8 if bm > 64 else 4, num_stages=stages)
compiled = triton.compile(
    ASTSource(fn, sig, const, attrs), target=GPUTarget("cuda", arch, 32), options=options
)
print(f"sm_{arch} stages {stages} BM {bm} fp8 {fp8}: shared {compiled.metadata.shared} bytes")
