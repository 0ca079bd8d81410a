"""Fp8RowLinear and quantize_ with Fp8RowConfig: layout, the forward's maths, quantised inputs, casts."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from turbodiffusion.quant import Fp8RowConfig, Fp8RowLinear, Int8Config, Int8Linear, quantize_
from turbodiffusion.quant.row_gemm import row_scaled_mm_reference
from turbodiffusion.quant.row_quant import RowQuantized, quantize_rows_reference
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import assert_matches, rel_l2

from .test_int8_linear import _toy, gaussian_case


def test_quantize_swaps_the_block_linears_with_row_scales():
    model = quantize_(_toy(0), Fp8RowConfig())
    kinds = {
        n: type(m).__name__ for n, m in model.named_modules() if isinstance(m, (nn.Linear, Fp8RowLinear))
    }
    assert kinds["embed"] == "Linear" and kinds["head"] == "Linear"
    assert kinds["blocks.0.attn.proj_l"] == "Linear", "the skip list keeps SLA's projection in float"
    assert kinds["blocks.1.ffn.0"] == "Fp8RowLinear" and kinds["blocks.1.attn.q"] == "Fp8RowLinear"
    sd = model.state_dict()
    assert sd["blocks.0.ffn.0.fp8_weight"].dtype == torch.float8_e4m3fn
    assert sd["blocks.0.ffn.0.fp8_weight"].shape == (384, 256) and sd["blocks.0.ffn.0.scale"].shape == (384,)


def test_weights_are_the_row_codes_and_forward_is_quantise_then_gemm():
    g = torch.Generator().manual_seed(2)
    lin = nn.Linear(256, 208)
    layer = Fp8RowLinear.from_linear(lin)
    codes, scale = quantize_rows_reference(lin.weight.detach())
    assert torch.equal(layer.fp8_weight.view(torch.int8), codes.view(torch.int8))
    assert torch.equal(layer.scale, scale)
    x = torch.randn(2, 17, 256, generator=g).bfloat16()
    y = layer(x)
    xq, xs = quantize_rows_reference(x.reshape(-1, 256))
    want = row_scaled_mm_reference(
        xq, xs, layer.fp8_weight, layer.scale, layer.bias, out_dtype=torch.bfloat16
    )
    assert y.dtype == torch.bfloat16 and y.shape == (2, 17, 208)
    assert torch.equal(y.reshape(-1, 208), want)
    # An input already quantised (a fused norm's output) skips the layer's own quantiser: same result.
    pre = RowQuantized(xq.view(2, 17, 256), xs.view(2, 17), torch.bfloat16)
    assert torch.equal(layer(pre), y)


def test_error_on_gaussian_data_and_from_int8():
    lin, x, truth = gaussian_case()
    assert rel_l2(Fp8RowLinear.from_linear(lin)(x), truth) <= tolerances.FP8_GAUSSIAN_REL_L2
    from_int8 = Fp8RowLinear.from_linear(Int8Linear.from_linear(lin))
    assert rel_l2(from_int8(x), truth) <= tolerances.FP8_GAUSSIAN_REL_L2


def test_triton_quantiser_matches_reference_impl(device):
    g = torch.Generator().manual_seed(3)
    lin = nn.Linear(384, 144, bias=False).to(device)
    ref_layer = Fp8RowLinear.from_linear(lin, impl="reference")
    tri_layer = Fp8RowLinear.from_linear(lin, impl="triton")
    assert torch.equal(tri_layer.fp8_weight.view(torch.int8), ref_layer.fp8_weight.view(torch.int8))
    x = torch.randn(3, 45, 384, generator=g).to(device, torch.bfloat16)
    truth = ref_layer(x.float())
    assert_matches(tri_layer(x), truth, eager=ref_layer(x), dtype=torch.bfloat16)


def test_casts_keep_codes_and_scales_and_meta_shells_load():
    model = quantize_(_toy(9), Fp8RowConfig()).to(torch.bfloat16)
    layer = model.blocks[1]["ffn"][0]
    assert layer.fp8_weight.dtype == torch.float8_e4m3fn and layer.scale.dtype == torch.float32
    assert layer.bias.dtype == torch.bfloat16
    y = model(torch.randn(1, 7, 64).bfloat16())
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()
    with torch.device("meta"):
        shell = _toy(0)
    quantize_(shell, Fp8RowConfig())
    assert shell.blocks[0]["attn"].q.fp8_weight.is_meta
    real = quantize_(_toy(6), Fp8RowConfig()).state_dict()
    shell.load_state_dict(real, assign=True, strict=True)
    assert torch.equal(shell.blocks[1]["attn"].q.scale, real["blocks.1.attn.q.scale"])


def test_requantises_int8_layers_and_passes_fast_accum():
    model = quantize_(_toy(7), Int8Config())
    weight = model.blocks[0]["ffn"][2].dequantize()
    quantize_(model, Fp8RowConfig(fast_accum=True))
    layer = model.blocks[0]["ffn"][2]
    assert isinstance(layer, Fp8RowLinear) and layer.fast_accum
    assert torch.equal(layer.scale, quantize_rows_reference(weight)[1])


def test_invalid_uses_raise():
    from .test_int8_linear import _Toy

    with pytest.raises(ValueError, match="multiples of 16"):
        Fp8RowLinear(100, 64)
    with pytest.raises(ValueError, match="impl must be"):
        Fp8RowLinear(128, 64, impl="gpu")
    with pytest.raises(ValueError, match="input has 64 features; this layer takes 128"):
        Fp8RowLinear.from_linear(nn.Linear(128, 16))(torch.randn(2, 64))
    model = _Toy(ffn=200)  # ffn.0 has out_features 200
    with pytest.raises(ValueError, match=r"blocks.0.ffn.0 \(256 -> 200\)"):
        quantize_(model, Fp8RowConfig())
    assert isinstance(model.blocks[0]["ffn"][0], nn.Linear), "a failed quantize_ must change nothing"
