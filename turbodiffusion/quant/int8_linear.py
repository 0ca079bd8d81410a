"""W8A8 linear layers: ``Int8Linear`` (the TurboWan format) and ``Fp8Linear`` (e4m3, for Hopper-class GPUs).

Both hold codes + fp32 block scales instead of a float weight and run, on every call: quantise the input
(act_quant), block-scaled GEMM with the bias added in its epilogue (gemm), reshape back. The state-dict
names are the TurboWan file's (quantization.md §4): ``<p>.int8_weight`` int8 [out, in], ``<p>.scale`` fp32
[ceil(out/128), in/128], ``<p>.bias`` [out]; Fp8Linear stores ``<p>.fp8_weight`` instead.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from .act_quant import BLOCK, dequantize_blockwise_reference, quantize_blockwise
from .config import IMPLS, Impl
from .gemm import scaled_mm


class FixedDtypeBuffers(nn.Module):
    """A module whose ``FIXED_DTYPE`` buffers (low-bit codes, fp32 scales) keep their dtype under casts.

    Model-wide casts (model.to(torch.bfloat16), .half()) must change neither the codes (float8 counts as a
    floating dtype to torch) nor the scales, which are part of the format and stay fp32 (quantization.md
    §4; a bf16 scale would move every weight by up to 0.4%). Device moves still apply.
    """

    FIXED_DTYPE: tuple[str, ...] = ()

    def _apply(self, fn, recurse=True):
        kept = {name: getattr(self, name) for name in self.FIXED_DTYPE}
        super()._apply(fn, recurse)
        for name, before in kept.items():
            now = getattr(self, name)
            if now.dtype != before.dtype:
                setattr(self, name, before.to(device=now.device))
        return self


class _BlockScaledLinear(FixedDtypeBuffers):
    """Shared body of the W8A8 linears; subclasses fix the code format and the activation tile."""

    FMT: str
    WEIGHT_NAME: str
    CODE_DTYPE: torch.dtype
    ACT_TILE_ROWS: int

    def __init__(
        self,
        in_features: int,
        out_features: int,
        bias: bool = True,
        *,
        device: torch.device | str | None = None,
        bias_dtype: torch.dtype = torch.float32,
        impl: Impl = "auto",
    ) -> None:
        super().__init__()
        if in_features % BLOCK:
            raise ValueError(
                f"in_features={in_features} is not a multiple of 128, which the 128x128 block format needs; "
                f"keep this layer in float (add its name to the config's skip list)"
            )
        if impl not in IMPLS:
            raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')
        self.in_features = in_features
        self.out_features = out_features
        self.impl = impl
        n_r = -(-out_features // BLOCK)
        self.register_buffer(
            self.WEIGHT_NAME, torch.empty(out_features, in_features, dtype=self.CODE_DTYPE, device=device)
        )
        self.register_buffer(
            "scale", torch.empty(n_r, in_features // BLOCK, dtype=torch.float32, device=device)
        )
        self.register_buffer(
            "bias", torch.empty(out_features, dtype=bias_dtype, device=device) if bias else None
        )

    @property
    def codes(self) -> Tensor:
        """The weight codes [out, in] (int8 or float8_e4m3fn)."""
        return getattr(self, self.WEIGHT_NAME)

    def forward(self, x: Tensor) -> Tensor:
        """x: [..., in] fp32/bf16/fp16 -> [..., out] in x's dtype (bias cast to it, quantization.md §4)."""
        if x.shape[-1] != self.in_features:
            raise ValueError(f"input has {x.shape[-1]} features; this layer takes {self.in_features}")
        x2 = x.reshape(-1, self.in_features)
        if x2.stride(-1) != 1:
            x2 = x2.contiguous()
        xq, xs = quantize_blockwise(x2, self.ACT_TILE_ROWS, self.FMT, impl=self.impl)
        y = scaled_mm(
            xq, xs, self.codes, self.scale, self.bias,
            out_dtype=x.dtype, a_tile_rows=self.ACT_TILE_ROWS, impl=self.impl,
        )  # fmt: skip
        return y.reshape(*x.shape[:-1], self.out_features)

    def dequantize(self) -> Tensor:
        """The weight the codes stand for: fp32 [out, in] = codes * scale (per 128x128 tile)."""
        return dequantize_blockwise_reference(self.codes, self.scale)

    def extra_repr(self) -> str:
        return f"in_features={self.in_features}, out_features={self.out_features}, bias={self.bias is not None}, impl={self.impl!r}"

    @classmethod
    def _empty_like(cls, linear: nn.Module, impl: Impl):
        bias = getattr(linear, "bias", None)
        weight_device = (
            linear.codes.device if isinstance(linear, _BlockScaledLinear) else linear.weight.device
        )
        return cls(
            linear.in_features,
            linear.out_features,
            bias is not None,
            device=weight_device,
            bias_dtype=bias.dtype if bias is not None else torch.float32,
            impl=impl,
        )

    def _fill(self, weight: Tensor, bias: Tensor | None) -> None:
        """Quantise ``weight`` [out, in] into this layer's buffers (weights use 128x128 tiles) and copy bias."""
        if weight.is_meta:  # built on meta: buffers stay empty until load_state_dict(assign=True)
            return
        codes, scale = quantize_blockwise(weight.detach(), BLOCK, self.FMT, impl=self.impl)
        setattr(self, self.WEIGHT_NAME, codes)
        self.scale = scale
        if bias is not None:
            self.bias = bias.detach().clone()


class Int8Linear(_BlockScaledLinear):
    """W8A8 INT8 linear, the TurboWan layout (quantization.md §2-§4).

    Weights: int8 codes per 128x128 tile. Activations: quantised on each call in 128-token x 128-channel
    tiles (not per token: a tile can span two samples when B > 1 and L % 128 != 0, as in the official code).
    in_features % 128 == 0 is required; out_features is free.
    """

    FMT = "int8"
    WEIGHT_NAME = "int8_weight"
    FIXED_DTYPE = ("int8_weight", "scale")
    CODE_DTYPE = torch.int8
    ACT_TILE_ROWS = BLOCK

    @classmethod
    def from_linear(cls, linear: nn.Linear, impl: Impl = "auto") -> Int8Linear:
        """Quantise an nn.Linear (its weight on any device, or on meta for an empty shell to load into)."""
        layer = cls._empty_like(linear, impl)
        layer._fill(linear.weight, linear.bias)
        return layer


class Fp8Linear(_BlockScaledLinear):
    """W8A8 FP8 e4m3 linear for GPUs with FP8 tensor cores (compute capability >= 8.9), our own mode.

    Weights: e4m3 codes per 128x128 tile (scale = amax / 448). Activations: one scale per token per 128
    channels. Built from an nn.Linear (float weights) or an Int8Linear (its dequantised weight re-quantised;
    lossier than from float, see benchmarks/linear.py for both errors).
    """

    FMT = "fp8"
    WEIGHT_NAME = "fp8_weight"
    FIXED_DTYPE = ("fp8_weight", "scale")
    CODE_DTYPE = torch.float8_e4m3fn
    ACT_TILE_ROWS = 1

    @classmethod
    def from_linear(cls, linear: nn.Linear | Int8Linear, impl: Impl = "auto") -> Fp8Linear:
        """Quantise an nn.Linear, or re-quantise an Int8Linear, into e4m3 codes (meta in, empty shell out)."""
        layer = cls._empty_like(linear, impl)
        if isinstance(linear, Int8Linear):
            weight = linear.codes if linear.codes.is_meta else linear.dequantize()
        else:
            weight = linear.weight
        layer._fill(weight, linear.bias)
        return layer
