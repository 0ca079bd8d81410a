"""The decoder's nearest x2 + 3x3 convolution in its sub-pixel form (models/wan/vae_upsample.py).

The reference is the form the official decoder runs: ``F.interpolate`` then ``F.conv2d``. Ragged sizes
(odd, 1 x 1, non-square), channel counts that are not powers of two, both memory formats.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from turbodiffusion.models.wan.vae_upsample import (
    UpsampleConv2d,
    subpixel_weights,
    upsample2x_conv3x3,
    upsample2x_conv3x3_reference,
)
from turbodiffusion.testing.compare import assert_matches

SHAPES = [(2, 5, 3, 7, 9), (1, 8, 4, 1, 1), (3, 6, 6, 4, 11), (1, 12, 5, 13, 2)]  # N, C_in, C_out, H, W


def _inputs(shape, dtype, seed, bias=True):
    n, ci, co, h, w = shape
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(n, ci, h, w, generator=g, dtype=torch.float64)
    weight = torch.randn(co, ci, 3, 3, generator=g, dtype=torch.float64) / (9 * ci) ** 0.5
    b = torch.randn(co, generator=g, dtype=torch.float64) if bias else None
    return x.to(dtype), weight.to(dtype), None if b is None else b.to(dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("bias", [True, False])
def test_equals_upsample_then_conv_in_float64(shape, bias):
    """In float64 the two forms are one linear map: equal to float64 rounding."""
    x, weight, b = _inputs(shape, torch.float64, seed=sum(shape), bias=bias)
    x_before = x.clone()
    out = upsample2x_conv3x3(x, weight, b)
    ref = upsample2x_conv3x3_reference(x, weight, b)
    assert out.shape == ref.shape == (shape[0], shape[2], 2 * shape[3], 2 * shape[4])
    assert out.dtype == torch.float64
    torch.testing.assert_close(out, ref, rtol=0, atol=1e-12)
    assert torch.equal(x, x_before), "the input was modified"


@pytest.mark.parametrize("shape", SHAPES)
def test_channels_last_in_channels_last_out(shape):
    x, weight, b = _inputs(shape, torch.float32, seed=3)
    cl = x.contiguous(memory_format=torch.channels_last)
    w_cl = weight.contiguous(memory_format=torch.channels_last)
    out = upsample2x_conv3x3(cl, w_cl, b)
    expect_cl = cl.is_contiguous(memory_format=torch.channels_last) and not cl.is_contiguous()
    assert out.is_contiguous(memory_format=torch.channels_last if expect_cl else torch.contiguous_format)
    assert upsample2x_conv3x3(x, weight, b).is_contiguous()
    assert_matches(out, upsample2x_conv3x3_reference(x, weight, b), dtype=torch.float32)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
def test_low_precision_error_ratio(dtype):
    """In 16 bits the summed weights are rounded once: the error against float64 stays within the house
    ratio of the plain form's own error in the same dtype."""
    shape = (2, 24, 16, 9, 13)
    x, weight, b = _inputs(shape, torch.float64, seed=5)
    truth = upsample2x_conv3x3_reference(x, weight, b)
    low = [t.to(dtype) for t in (x, weight, b)]
    out = upsample2x_conv3x3(*low)
    assert out.dtype == dtype
    assert_matches(out, truth, eager=upsample2x_conv3x3_reference(*low), dtype=dtype)


def test_weights_hold_each_parity():
    """The folded kernel, applied to a single impulse, reproduces the plain form's four parities: channel
    (2a + b) * C_out + o of window (r, c) is output pixel (2r - 1 + a, 2c - 1 + b)."""
    x, weight, b = _inputs((1, 3, 2, 3, 4), torch.float64, seed=9)
    w2, b2 = subpixel_weights(weight, b)
    assert w2.shape == (8, 3, 2, 2) and b2.shape == (8,)
    y = F.conv2d(x, w2, b2, padding=1)  # [1, 8, 4, 5]
    ref = upsample2x_conv3x3_reference(x, weight, b)  # [1, 2, 6, 8]
    for a in (0, 1):
        for bb in (0, 1):
            for r in range(4):
                for c in range(5):
                    row, col = 2 * r - 1 + a, 2 * c - 1 + bb
                    if 0 <= row < 6 and 0 <= col < 8:
                        block = y[0, (2 * a + bb) * 2 : (2 * a + bb + 1) * 2, r, c]
                        torch.testing.assert_close(block, ref[0, :, row, col], rtol=0, atol=1e-12)


def test_gradients_match():
    x, weight, b = _inputs((2, 4, 3, 5, 6), torch.float64, seed=11)
    grads = []
    for fn in (upsample2x_conv3x3, upsample2x_conv3x3_reference):
        leaves = [t.clone().requires_grad_() for t in (x, weight, b)]
        out = fn(*leaves)
        out.backward(torch.linspace(-1, 1, out.numel(), dtype=torch.float64).view_as(out))
        grads.append([t.grad for t in leaves])
    for got, want in zip(*grads):
        torch.testing.assert_close(got, want, rtol=0, atol=1e-11)


def test_module_switches_form_and_keeps_its_parameters():
    conv = UpsampleConv2d(6, 4).double()
    assert sorted(n for n, _ in conv.named_parameters()) == ["bias", "weight"]
    assert conv.weight.shape == (4, 6, 3, 3) and not conv.subpixel
    x = torch.randn(2, 6, 5, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(13))
    plain = conv(x)
    conv.subpixel = True
    torch.testing.assert_close(conv(x), plain, rtol=0, atol=1e-12)


def test_rejects_a_kernel_that_is_not_3x3():
    with pytest.raises(ValueError, match=r"\[C_out, C_in, 3, 3\]"):
        subpixel_weights(torch.zeros(2, 3, 5, 5), None)
