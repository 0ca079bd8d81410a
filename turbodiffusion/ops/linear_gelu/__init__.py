"""Linear + tanh GELU in one GEMM (cuBLASLt's GELU epilogue on CUDA): dispatcher over reference.py.

There is no Triton kernel here: cuBLAS's bf16 GEMM is faster than ours at Wan's shapes, and its epilogue
saves the separate GELU pass over the [L, ffn_dim] hidden state (10 ms a forward at 1.3B-480p on an H200).
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor

from .reference import check_linear_gelu_inputs, linear_gelu_reference

__all__ = ["linear_gelu", "linear_gelu_reference"]


def linear_gelu(
    x: Tensor,
    weight: Tensor,
    bias: Tensor | None,
    *,
    impl: Literal["auto", "cublaslt", "reference"] = "auto",
) -> Tensor:
    """gelu_tanh(x @ weight^T + bias), returned in x's dtype.

    x: [..., in] fp32/bf16/fp16; weight: [out, in] and bias: [out] (or None) in x's dtype and device.
    impl: "auto" = cuBLASLt's epilogue on CUDA when there is a bias, the reference otherwise; "cublaslt"
    needs CUDA and a bias (the epilogue op takes one).
    """
    if impl not in ("auto", "cublaslt", "reference"):
        raise ValueError(f'impl must be "auto", "cublaslt" or "reference" (got {impl!r})')
    check_linear_gelu_inputs(x, weight, bias)
    fused_ok = x.is_cuda and bias is not None
    if impl == "cublaslt" and not fused_ok:
        raise ValueError('impl="cublaslt" needs CUDA tensors and a bias; use impl="auto" or "reference"')
    if impl == "reference" or not fused_ok:
        return linear_gelu_reference(x, weight, bias)
    # On CUDA this op is the GEMM with cuBLASLt's tanh-GELU epilogue (checked against the reference by
    # the GPU tests); its CPU fallback computes the erf GELU instead, which is why CPU never comes here.
    y = torch._addmm_activation(bias, x.reshape(-1, x.shape[-1]), weight.t(), use_gelu=True)
    return y.view(*x.shape[:-1], weight.shape[0])
