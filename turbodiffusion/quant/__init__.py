"""W8A8 quantisation: INT8 (the TurboWan format) and FP8 e4m3 (block- or row-scaled) linears, the converter, and their kernels.

``quantize_(model, Int8Config())`` swaps the block linears; ``quantize_checkpoint`` (``turbodiffusion
quantize``) converts a float checkpoint file. Kernels live in ``act_quant/``, ``gemm/``, ``row_quant/`` and ``row_gemm/`` beside their
PyTorch references; nothing here imports Triton until a kernel runs.
"""

from .api import quantize_
from .config import Fp8Config, Fp8RowConfig, Int8Config, QuantConfig, config_from_dict
from .fp8_row_linear import Fp8RowLinear
from .int8_linear import Fp8Linear, Int8Linear

__all__ = [
    "Fp8Config",
    "Fp8Linear",
    "Fp8RowConfig",
    "Fp8RowLinear",
    "Int8Config",
    "Int8Linear",
    "QuantConfig",
    "config_from_dict",
    "quantize_",
]
