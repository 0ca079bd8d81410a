"""Linear + tanh GELU: the reference is Wan's eager FFN half; cuBLASLt's epilogue matches it on GPUs."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from turbodiffusion.ops.linear_gelu import linear_gelu, linear_gelu_reference


def _layer(n_in, n_out, dtype, device, seed):
    torch.manual_seed(seed)
    layer = nn.Linear(n_in, n_out).to(device, dtype)
    x = torch.randn(2, 37, n_in, device=device, dtype=dtype)
    return layer, x


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_reference_is_the_eager_ffn_half(dtype):
    layer, x = _layer(96, 160, dtype, "cpu", seed=0)
    eager = nn.Sequential(layer, nn.GELU(approximate="tanh"))
    assert torch.equal(linear_gelu_reference(x, layer.weight, layer.bias), eager(x))


def test_auto_on_cpu_is_the_reference():
    layer, x = _layer(64, 80, torch.bfloat16, "cpu", seed=1)
    out = linear_gelu(x, layer.weight, layer.bias)
    assert out.shape == (2, 37, 80)
    assert torch.equal(out, linear_gelu_reference(x, layer.weight, layer.bias))
    assert torch.equal(linear_gelu(x, layer.weight, None), linear_gelu_reference(x, layer.weight, None))


def test_invalid_inputs_raise():
    layer, x = _layer(64, 80, torch.float32, "cpu", seed=2)
    with pytest.raises(ValueError, match="must agree on in"):
        linear_gelu(x[..., :63], layer.weight, layer.bias)
    with pytest.raises(ValueError, match=r"bias must be \[out\]"):
        linear_gelu(x, layer.weight, layer.bias[:-1])
    with pytest.raises(ValueError, match="one dtype and device"):
        linear_gelu(x.bfloat16(), layer.weight, layer.bias)
    with pytest.raises(ValueError, match="impl must be"):
        linear_gelu(x, layer.weight, layer.bias, impl="triton")
    with pytest.raises(ValueError, match="needs CUDA tensors and a bias"):
        linear_gelu(x, layer.weight, layer.bias, impl="cublaslt")


@pytest.mark.gpu
def test_epilogue_is_the_tanh_gelu_in_fp32():
    # fp32 (TF32 off) resolves tanh vs erf GELU: they differ by up to 5e-4, far above fp32 GEMM error.
    layer, x = _layer(256, 384, torch.float32, "cuda", seed=3)
    x = x * 2
    previous = torch.backends.cuda.matmul.allow_tf32
    torch.backends.cuda.matmul.allow_tf32 = False
    try:
        fused = linear_gelu(x, layer.weight, layer.bias, impl="cublaslt")
        pre = torch.nn.functional.linear(x.double(), layer.weight.double(), layer.bias.double())
    finally:
        torch.backends.cuda.matmul.allow_tf32 = previous
    tanh = torch.nn.functional.gelu(pre, approximate="tanh")
    erf = torch.nn.functional.gelu(pre)
    assert (erf - tanh).abs().max() > 1e-4  # the inputs do tell the two apart
    assert (fused.double() - tanh).abs().max() < 2e-5


@pytest.mark.gpu
def test_epilogue_in_bf16_rounds_once():
    layer, x = _layer(1536, 2048, torch.bfloat16, "cuda", seed=4)
    fused = linear_gelu(x, layer.weight, layer.bias, impl="cublaslt")
    pre = torch.nn.functional.linear(x.double(), layer.weight.double(), layer.bias.double())
    truth = torch.nn.functional.gelu(pre, approximate="tanh")
    eager = linear_gelu_reference(x, layer.weight, layer.bias)
    err_fused = (fused.double() - truth).pow(2).mean().sqrt()
    err_eager = (eager.double() - truth).pow(2).mean().sqrt()
    assert err_fused <= err_eager * 1.05, (err_fused, err_eager)
