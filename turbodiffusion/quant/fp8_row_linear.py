"""``Fp8RowLinear``: W8A8 FP8 e4m3 with one scale per output channel and one per token (Fp8RowConfig).

State-dict names: ``<p>.fp8_weight`` float8_e4m3fn [out, in], ``<p>.scale`` fp32 [out], ``<p>.bias`` [out].
On each call: quantise the input row-wise (row_quant) unless it arrives quantised as a ``RowQuantized``
(from a fused norm kernel), then one row-scaled FP8 GEMM with the bias in its epilogue (row_gemm).
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .config import IMPLS, Impl
from .int8_linear import FixedDtypeBuffers, Int8Linear
from .row_gemm import ALIGN, row_scaled_mm
from .row_quant import RowQuantized, dequantize_rows_reference, quantize_rows


class Fp8RowLinear(FixedDtypeBuffers):
    """Linear on e4m3 codes with row-wise scales (weights per output channel, activations per token).

    in_features and out_features must be multiples of 16 (the FP8 GEMM's alignment). ``fast_accum`` is the
    GEMM's accumulation mode (Fp8RowConfig.fast_accum); ``impl`` picks kernels as in the other W8A8 linears
    ("reference" computes the same maths in fp32 PyTorch, also on CUDA).
    """

    FIXED_DTYPE = ("fp8_weight", "scale")

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        bias_dtype: torch.dtype = torch.float32,
        fast_accum: bool = False,
        impl: Impl = "auto",
    ) -> None:
        super().__init__()
        if in_features % ALIGN or out_features % ALIGN:
            raise ValueError(
                f"Fp8RowLinear needs in_features and out_features multiples of {ALIGN} (got {in_features}, "
                f"{out_features}); keep this layer in float (add its name to the config's skip list)"
            )
        if impl not in IMPLS:
            raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
        self.in_features, self.out_features = in_features, out_features
        self.fast_accum, self.impl = fast_accum, impl
        self.register_buffer(
            "fp8_weight", torch.empty(out_features, in_features, dtype=torch.float8_e4m3fn, device=device)
        )
        self.register_buffer("scale", torch.empty(out_features, dtype=torch.float32, device=device))
        self.register_buffer(
            "bias", torch.empty(out_features, dtype=bias_dtype, device=device) if bias else None
        )

    def forward(self, x: Tensor | RowQuantized) -> Tensor:
        """x: [..., in] fp32/bf16/fp16, or a RowQuantized of that shape -> [..., out] in x's (original) dtype."""
        width = (x.codes if isinstance(x, RowQuantized) else x).shape[-1]
        if width != self.in_features:
            raise ValueError(f"input has {width} features; this layer takes {self.in_features}")
        if isinstance(x, RowQuantized):
            codes, scale, dtype = x
            lead = codes.shape[:-1]
            codes, scale = codes.reshape(-1, width), scale.reshape(-1)
        else:
            dtype, lead = x.dtype, x.shape[:-1]
            x2 = x.reshape(-1, width)
            if width > 1 and x2.stride(-1) != 1:
                x2 = x2.contiguous()
            codes, scale = quantize_rows(x2, impl=self.impl)
        gemm_impl = "reference" if self.impl == "reference" else "auto"
        y = row_scaled_mm(
            codes, scale, self.fp8_weight, self.scale, self.bias,
            out_dtype=dtype, fast_accum=self.fast_accum, impl=gemm_impl,
        )  # fmt: skip
        return y.reshape(*lead, self.out_features)

    def dequantize(self) -> Tensor:
        """The weight the codes stand for: fp32 [out, in] = codes * scale (per output channel)."""
        return dequantize_rows_reference(self.fp8_weight, self.scale)

    def extra_repr(self) -> str:
        return (
            f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, "
            f"fast_accum={self.fast_accum}, impl={self.impl!r}"
        )

    @classmethod
    def from_linear(
        cls, linear: nn.Linear | Int8Linear, *, fast_accum: bool = False, impl: Impl = "auto"
    ) -> Fp8RowLinear:
        """Quantise an nn.Linear, or re-quantise an Int8Linear's dequantised weight (lossier than from float).

        A linear on the meta device gives an empty shell whose buffers ``load_state_dict(assign=True)`` fills.
        """
        bias = linear.bias
        weight = linear.codes if isinstance(linear, Int8Linear) else linear.weight
        layer = cls(
            linear.in_features,
            linear.out_features,
            bias is not None,
            device=weight.device,
            bias_dtype=bias.dtype if bias is not None else torch.float32,
            fast_accum=fast_accum,
            impl=impl,
        )
        if weight.is_meta:
            return layer
        if isinstance(linear, Int8Linear):
            weight = linear.dequantize()
        layer.fp8_weight, layer.scale = quantize_rows(weight.detach(), impl=impl)
        if bias is not None:
            layer.bias = bias.detach().clone()
        return layer
