"""The modes a pipeline takes by name, apart from the pipeline code so that the CLI's help can list them
without importing torch."""

from __future__ import annotations

from typing import Literal

# W8A8 modes a pipeline can run: the TurboWan INT8 format; FP8 e4m3 with row-wise scales (Fp8RowConfig:
# faster on GPUs with FP8 tensor cores, a little less exact); and the same with the GEMM's fast accumulation
# (cuBLAS stops promoting the tensor cores' partial sums to fp32 along K): the fastest mode measured and less
# exact again (benchmarks/e2e.py's turbo-fp8 and turbo-fp8-fast rows). On the CPU both FP8 modes run one
# reference, which has no fast accumulation to imitate.
QUANT_MODES = ("int8", "fp8-row", "fp8-row-fast")
FP8_MODES = ("fp8-row", "fp8-row-fast")  # the modes that need FP8 tensor cores on CUDA

OffloadMode = Literal["model", "blocks"]
OFFLOAD_MODES: tuple[str, ...] = ("model", "blocks")
