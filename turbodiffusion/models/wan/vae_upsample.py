"""Nearest x2 upsampling followed by a 3x3 convolution, computed at the low resolution (sub-pixel form).

The Wan VAE decoder's spatial upsamples (models.md §5, ``Resample`` in vae_blocks.py) repeat every pixel
2x2 and then run a 3x3 convolution (padding 1) over the repeated image. Each output pixel's 3x3 window then
covers only 2x2 distinct input pixels: for an output row of parity p the three taps fall on input rows
(i - 1, i, i) when p = 0 and (i, i, i + 1) when p = 1. Summing the taps that read the same input pixel
gives, per output parity (p, q), a 2x2 convolution over the input itself:

    rows, p = 0:  row i - 1 weight w0,       row i weight w1 + w2
    rows, p = 1:  row i     weight w0 + w1,  row i + 1 weight w2        (columns alike with q)

All four parities come from one 2x2 convolution with 4 x C_out channels over the input padded by one pixel:
window (r, c) covers input rows r - 1, r and columns c - 1, c, and its outputs are the pixels (2r - 1 + a,
2c - 1 + b), a, b in {0, 1}, with a = 1 - p. That is 16 instead of 36 multiply-adds a channel pair for every
2x2 output pixels (2.25x fewer), and the 4x-sized repeated image is never written. On the decoder at 480p
the three upsampling convolutions took 28 + 23 + 3 ms of a 0.80 s decode on an H200, after an interpolate
writing up to 12 GB (benchmarks/runs/h200-2026-12-02e, ``--layers``).

The result equals the plain form up to rounding: the summed weights are formed in fp32 and rounded once to
the activations' dtype, and each output sums its products in another grouping.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from .vae_layout import memory_format_of


def _pair_taps(w: Tensor, dim: int) -> tuple[Tensor, Tensor]:
    """The two 2-tap kernels that a 3-tap axis ``dim`` of w folds into: (w0 + w1, w2) for window parity 0
    (output rows 2r - 1) and (w0, w1 + w2) for parity 1 (rows 2r). Device ops only: no host data, no sync."""
    t0, t1, t2 = w.unbind(dim)
    return torch.stack([t0 + t1, t2], dim), torch.stack([t0, t1 + t2], dim)


def subpixel_weights(weight: Tensor, bias: Tensor | None) -> tuple[Tensor, Tensor | None]:
    """The 2x2 convolution that yields all four output parities of nearest x2 + ``weight``.

    weight: [C_out, C_in, 3, 3]; bias: [C_out] or None. Returns (w [4 * C_out, C_in, 2, 2], b [4 * C_out] or
    None) in fp32 (float64 for a float64 weight) and weight's memory format; output channel
    (2a + b) * C_out + o holds window parity (a, b) of channel o (parities as in the module docstring).
    """
    if weight.dim() != 4 or tuple(weight.shape[2:]) != (3, 3):
        raise ValueError(f"subpixel_weights needs a [C_out, C_in, 3, 3] weight (got {tuple(weight.shape)})")
    dtype = torch.promote_types(weight.dtype, torch.float32)
    rows = _pair_taps(weight.to(dtype), -2)  # by row parity a: [C_out, C_in, 2, 3]
    w = torch.cat([k for r in rows for k in _pair_taps(r, -1)])  # (a, b) = (0, 0), (0, 1), (1, 0), (1, 1)
    b = None if bias is None else bias.to(dtype).repeat(4)
    return w.contiguous(memory_format=memory_format_of(weight)), b


def upsample2x_conv3x3(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """``conv2d(interpolate(x, scale_factor=2, mode="nearest"), weight, bias, padding=1)`` without the
    upsampled image.

    x: [N, C_in, H, W]; weight: [C_out, C_in, 3, 3]; bias: [C_out] or None, in x's dtype. Returns
    [N, C_out, 2H, 2W] in x's dtype and memory format (channels-last in, channels-last out).
    """
    n, _, h, w = x.shape
    c_out = weight.shape[0]
    w2, b2 = subpixel_weights(weight, bias)
    w2 = w2.to(x.dtype)
    y = F.conv2d(x, w2, None if b2 is None else b2.to(x.dtype), padding=1)  # [N, 4 * C_out, H + 1, W + 1]
    y = y.unflatten(1, (2, 2, c_out))  # [N, a, b, C_out, H + 1, W + 1]
    out = torch.empty(
        (n, c_out, 2 * h, 2 * w), dtype=x.dtype, device=x.device, memory_format=memory_format_of(x)
    )
    # Output pixel (2i + p, 2j + q) is window (i + p, j + q)'s parity (1 - p, 1 - q).
    grid = out.unflatten(2, (h, 2)).unflatten(4, (w, 2))  # [N, C_out, i, p, j, q], a view
    for p in (0, 1):
        for q in (0, 1):
            grid[:, :, :, p, :, q].copy_(y[:, 1 - p, 1 - q, :, p : p + h, q : q + w])
    return out


def upsample2x_conv3x3_reference(x: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    """The plain form, as the official decoder runs it: the image repeated 2x2 (``nearest-exact`` equals
    ``nearest`` at scale 2), then the 3x3 convolution (padding 1). Shapes as ``upsample2x_conv3x3``."""
    return F.conv2d(F.interpolate(x, scale_factor=2.0, mode="nearest-exact"), weight, bias, padding=1)


class UpsampleConv2d(nn.Conv2d):
    """Nearest x2, then this 3x3 convolution (padding 1): the official upsample's ``resample.1`` with the
    parameter-free upsampling before it taken in, so that ``subpixel`` can skip the repeated image.

    Parameters as ``nn.Conv2d(in_channels, out_channels, 3, padding=1)``'s. x: [N, C_in, H, W] ->
    [N, C_out, 2H, 2W].
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__(in_channels, out_channels, 3, padding=1)
        # Set by WanVAE.use_subpixel_upsampling: upsample2x_conv3x3 instead of the plain form.
        self.subpixel = False

    def forward(self, x: Tensor) -> Tensor:
        if self.subpixel:
            return upsample2x_conv3x3(x, self.weight, self.bias)
        return upsample2x_conv3x3_reference(x, self.weight, self.bias)
