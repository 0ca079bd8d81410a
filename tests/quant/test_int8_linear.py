"""Int8Linear / Fp8Linear and quantize_: layout, dispatch, dtypes, and what gets converted."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from turbodiffusion.quant import Fp8Config, Fp8Linear, Fp8RowConfig, Int8Config, Int8Linear, quantize_
from turbodiffusion.quant.act_quant import quantize_blockwise_reference
from turbodiffusion.quant.gemm import scaled_mm_reference
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import assert_matches, rel_l2

from .test_gemm import assert_within_ulps


class _Attn(nn.Module):
    def __init__(self, dim: int) -> None:
        super().__init__()
        self.q = nn.Linear(dim, dim)
        self.proj_l = nn.Linear(dim, dim)  # stands in for SLA's projection: must stay float


class _Toy(nn.Module):
    """Blocks of linears like a Wan block, plus linears outside ``blocks`` that must stay float."""

    def __init__(self, dim: int = 256, ffn: int = 384, layers: int = 2) -> None:
        super().__init__()
        self.embed = nn.Linear(64, dim)
        self.blocks = nn.ModuleList(
            nn.ModuleDict(
                {
                    "attn": _Attn(dim),
                    "ffn": nn.Sequential(nn.Linear(dim, ffn), nn.GELU(), nn.Linear(ffn, dim)),
                }
            )
            for _ in range(layers)
        )
        self.head = nn.Linear(dim, 8)

    def forward(self, x):
        x = self.embed(x)
        for b in self.blocks:
            x = x + b["ffn"](b["attn"].q(x))
        return self.head(x)


def _toy(seed: int) -> _Toy:
    torch.manual_seed(seed)  # module init draws from the global generator; reseeded per case
    return _Toy().eval()


def test_quantize_swaps_exactly_the_block_linears():
    model = quantize_(_toy(0), Int8Config())
    kinds = {n: type(m).__name__ for n, m in model.named_modules() if isinstance(m, (nn.Linear, Int8Linear))}
    assert kinds == {
        "embed": "Linear",
        "head": "Linear",
        **{f"blocks.{i}.attn.q": "Int8Linear" for i in range(2)},
        **{f"blocks.{i}.attn.proj_l": "Linear" for i in range(2)},
        **{f"blocks.{i}.ffn.{j}": "Int8Linear" for i in range(2) for j in (0, 2)},
    }
    sd = model.state_dict()
    assert sd["blocks.0.ffn.0.int8_weight"].dtype == torch.int8 and sd[
        "blocks.0.ffn.0.int8_weight"
    ].shape == (384, 256)
    assert sd["blocks.0.ffn.0.scale"].dtype == torch.float32 and sd["blocks.0.ffn.0.scale"].shape == (3, 2)
    assert sd["blocks.0.ffn.2.scale"].shape == (2, 3) and "blocks.0.ffn.0.weight" not in sd


def test_quantized_weights_are_the_blockwise_codes():
    model = _toy(1)
    w = model.blocks[0]["ffn"][0].weight.detach().clone()
    quantize_(model, Int8Config())
    codes, scale = quantize_blockwise_reference(w)
    layer = model.blocks[0]["ffn"][0]
    assert torch.equal(layer.int8_weight, codes) and torch.equal(layer.scale, scale)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
def test_forward_is_quantise_then_gemm(dtype):
    g = torch.Generator().manual_seed(2)
    lin = nn.Linear(256, 200)
    layer = Int8Linear.from_linear(lin)
    x = torch.randn(2, 17, 256, generator=g).to(dtype)
    y = layer(x)
    xq, xs = quantize_blockwise_reference(x.reshape(-1, 256))
    want = scaled_mm_reference(xq, xs, layer.int8_weight, layer.scale, layer.bias, out_dtype=dtype)
    assert y.dtype == dtype and y.shape == (2, 17, 200)
    assert torch.equal(y.reshape(-1, 200), want)


@pytest.mark.parametrize("cls", [Int8Linear, Fp8Linear])
def test_triton_impl_matches_reference_impl(cls, device):
    g = torch.Generator().manual_seed(3)
    lin = nn.Linear(384, 136, bias=False).to(device)
    ref_layer, tri_layer = cls.from_linear(lin, impl="reference"), cls.from_linear(lin, impl="triton")
    assert torch.equal(tri_layer.codes.view(torch.int8), ref_layer.codes.view(torch.int8))
    assert torch.equal(tri_layer.scale, ref_layer.scale)
    x = torch.randn(3, 45, 384, generator=g).to(device, torch.bfloat16)
    out = tri_layer(x)
    eager = ref_layer(x)
    truth = ref_layer(x.float())  # bf16 -> fp32 is exact: same codes, fp32 output of the same algorithm
    assert_matches(out, truth, eager=eager, dtype=torch.bfloat16)
    if cls is Int8Linear:
        assert_within_ulps(out, eager, eager, torch.bfloat16)


def gaussian_case() -> tuple[nn.Linear, torch.Tensor, torch.Tensor]:
    """A bias-free linear with Gaussian weights, Gaussian inputs x [256, 512] and its fp32 output."""
    g = torch.Generator().manual_seed(4)
    lin = nn.Linear(512, 384)
    with torch.no_grad():
        lin.weight.copy_(torch.randn(384, 512, generator=g))
        lin.bias.zero_()
    x = torch.randn(256, 512, generator=g)
    return lin, x, lin(x)


def test_w8a8_linear_error_on_gaussian_data():
    lin, x, truth = gaussian_case()
    assert rel_l2(Int8Linear.from_linear(lin)(x), truth) <= tolerances.W8A8_GAUSSIAN_REL_L2
    fp8_from_float = Fp8Linear.from_linear(lin)(x)
    fp8_from_int8 = Fp8Linear.from_linear(Int8Linear.from_linear(lin))(x)
    assert rel_l2(fp8_from_float, truth) <= tolerances.FP8_GAUSSIAN_REL_L2
    assert rel_l2(fp8_from_int8, truth) <= tolerances.FP8_GAUSSIAN_REL_L2


def test_model_cast_keeps_scales_fp32_and_runs_in_the_new_dtype():
    model = quantize_(_toy(5), Int8Config())
    model.to(torch.bfloat16)
    layer = model.blocks[0]["ffn"][0]
    assert layer.scale.dtype == torch.float32 and layer.int8_weight.dtype == torch.int8
    assert layer.bias.dtype == torch.bfloat16
    layer.bias.data = layer.bias.float()  # an fp32 bias (as in the manifests) is cast to the run dtype
    y = model(torch.randn(1, 7, 64, generator=torch.Generator().manual_seed(0)).bfloat16())
    assert y.dtype == torch.bfloat16 and torch.isfinite(y.float()).all()


def test_meta_model_gets_empty_shells_with_the_checkpoint_layout():
    with torch.device("meta"):
        model = _Toy()
    quantize_(model, Int8Config())
    sd = model.state_dict()
    assert sd["blocks.1.attn.q.int8_weight"].is_meta and sd["blocks.1.attn.q.int8_weight"].dtype == torch.int8
    assert sd["blocks.1.attn.q.scale"].shape == (2, 2) and sd["blocks.1.attn.q.bias"].dtype == torch.float32
    real = quantize_(_toy(6), Int8Config()).state_dict()
    model.load_state_dict(real, assign=True, strict=True)
    assert torch.equal(model.blocks[1]["attn"].q.int8_weight, real["blocks.1.attn.q.int8_weight"])


def test_model_cast_keeps_fp8_codes():
    model = quantize_(_toy(9), Fp8Config()).to(torch.bfloat16)
    layer = model.blocks[1]["ffn"][0]
    assert layer.fp8_weight.dtype == torch.float8_e4m3fn and layer.scale.dtype == torch.float32


def test_fp8_requantises_int8_layers():
    model = quantize_(_toy(7), Int8Config())
    int8_weight = model.blocks[0]["ffn"][2].dequantize()
    quantize_(model, Fp8Config())
    layer = model.blocks[0]["ffn"][2]
    assert isinstance(layer, Fp8Linear) and layer.fp8_weight.dtype == torch.float8_e4m3fn
    codes, scale = quantize_blockwise_reference(int8_weight, 128, "fp8")
    assert torch.equal(layer.fp8_weight.view(torch.int8), codes.view(torch.int8))
    assert torch.equal(layer.scale, scale)


def test_invalid_uses_raise():
    with pytest.raises(ValueError, match="no 'blocks' module"):
        quantize_(nn.Linear(128, 128), Int8Config())
    with pytest.raises(ValueError, match="config must be an Int8Config, Fp8Config or Fp8RowConfig"):
        quantize_(_toy(8), {"type": "int8"})
    model = _Toy(ffn=200)  # ffn.2 has in_features 200
    with pytest.raises(ValueError, match=r"blocks.0.ffn.2 \(in_features=200\)"):
        quantize_(model, Int8Config())
    assert isinstance(model.blocks[0]["ffn"][0], nn.Linear), "a failed quantize_ must change nothing"
    quantize_(model, Int8Config(skip=("proj_l", "ffn.2")))  # the named escape hatch works
    assert isinstance(model.blocks[0]["ffn"][2], nn.Linear) and isinstance(
        model.blocks[0]["ffn"][0], Int8Linear
    )
    with pytest.raises(ValueError, match="in_features=100 is not a multiple of 128"):
        Int8Linear(100, 64)
    with pytest.raises(ValueError, match="impl must be"):
        Int8Linear(128, 64, impl="gpu")
    with pytest.raises(ValueError, match="input has 64 features; this layer takes 128"):
        Int8Linear.from_linear(nn.Linear(128, 8))(torch.randn(2, 64))


@pytest.mark.parametrize(
    "config", [Int8Config(), Fp8Config(), Fp8RowConfig()], ids=lambda c: type(c).__name__
)
def test_quantise_on_the_device_gives_the_same_layers_where_the_model_is(config, device):
    """quantize_(..., device=) computes each layer on that device (on a GPU: the Triton quantisers) and leaves
    it where the model is, with the codes the quantisers give where the model is."""
    on_device = quantize_(_toy(11), config, device=device)
    here = quantize_(_toy(11), config)
    a, b = on_device.state_dict(), here.state_dict()
    assert list(a) == list(b)
    for name, tensor in a.items():
        assert tensor.device.type == "cpu", name
        assert tensor.dtype == b[name].dtype and torch.equal(
            tensor.view(torch.uint8), b[name].view(torch.uint8)
        )


def test_quantise_on_the_device_moves_each_layer_there_and_back_on_failure(monkeypatch):
    """Each target linear goes to the work device before its conversion (here a recorded move: no GPU); a
    conversion that fails puts its layer back where it was, unconverted."""
    from turbodiffusion.quant import int8_linear

    model = _toy(12)
    moves = []
    for module in model.blocks.modules():
        if isinstance(module, nn.Linear):
            monkeypatch.setattr(module, "to", lambda d, m=module: moves.append((id(m), str(d))) or m)
    quantize_(model, Int8Config(), device="cuda")
    targets = [m for m in model.blocks.modules() if isinstance(m, Int8Linear)]
    assert len(targets) == 6 and [d for _, d in moves] == ["cuda"] * 6

    model, moves = _toy(13), []
    linears = [
        m
        for m in model.blocks.modules()
        if isinstance(m, nn.Linear) and m is not model.blocks[0]["attn"].proj_l
    ]
    for module in linears:
        monkeypatch.setattr(module, "to", lambda d, m=module: moves.append((id(m), str(d))) or m)
    calls = []

    def fail_second(linear, impl="auto"):
        calls.append(linear)
        if len(calls) == 2:
            raise RuntimeError("CUDA out of memory")
        return original(linear, impl=impl)

    original = int8_linear.Int8Linear.from_linear
    monkeypatch.setattr(int8_linear.Int8Linear, "from_linear", fail_second)
    with pytest.raises(RuntimeError, match="out of memory"):
        quantize_(model, Int8Config(), device="cuda")
    assert [d for _, d in moves] == ["cuda", "cuda", "cpu"]  # the failed layer went back
    assert moves[1][0] == moves[2][0] == id(calls[1])
    assert calls[1] in list(model.blocks.modules())  # still in the model, still an nn.Linear


@pytest.mark.parametrize(
    "config", [Int8Config(), Fp8Config(), Fp8RowConfig()], ids=lambda c: type(c).__name__
)
def test_quantise_to_the_device_leaves_the_whole_model_there_with_the_same_codes(config, device):
    """quantize_(..., device=, to_device=True): every tensor of the model ends on the device, the codes those
    of quantising where the model was."""
    moved = quantize_(_toy(14), config, device=device, to_device=True)
    here = quantize_(_toy(14), config)
    a, b = moved.state_dict(), here.state_dict()
    assert list(a) == list(b)
    for name, tensor in a.items():
        assert tensor.device.type == device, name
        assert tensor.dtype == b[name].dtype and torch.equal(
            tensor.view(torch.uint8).cpu(), b[name].view(torch.uint8)
        )
    with pytest.raises(ValueError, match="to_device=True needs device="):
        quantize_(_toy(14), config, to_device=True)


def test_quantise_to_the_device_moves_each_layer_once_and_the_model_last(monkeypatch):
    """With to_device=True a converted layer is not sent back (recorded moves: no GPU here), and the model
    follows its layers once all are converted."""
    model = _toy(15)
    moves = []
    for module in model.blocks.modules():
        if isinstance(module, nn.Linear):
            monkeypatch.setattr(module, "to", lambda d, m=module: moves.append(("float", str(d))) or m)
    monkeypatch.setattr(Int8Linear, "to", lambda self, d: moves.append(("int8", str(d))) or self)
    monkeypatch.setattr(model, "to", lambda d: moves.append(("model", str(d))) or model)
    quantize_(model, Int8Config(), device="cuda", to_device=True)
    assert moves == [("float", "cuda")] * 6 + [("model", "cuda")]
