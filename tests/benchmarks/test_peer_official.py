"""benchmarks/peer_official.py on the CPU: the swap wires every official entry point to the right weights.

The official kernels need CUDA; here stand-ins with the official call signatures compute with our own
references, so a swapped fp32 model must reproduce the unswapped one. A wrong weight copy, a dropped bias,
a missed module or a layout mix-up in the adapter shows up as a mismatch.
"""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from turbodiffusion.attention import AttentionConfig
from turbodiffusion.attention.sla.reference import sla_reference
from turbodiffusion.models.wan import WanDiT, WanDiTConfig
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.quant import Int8Config, quantize_
from turbodiffusion.quant.act_quant import quantize_blockwise
from turbodiffusion.quant.gemm import scaled_mm
from turbodiffusion.testing.compare import assert_matches

from ._load import load_benchmark

peer_official = load_benchmark("peer_official")

# head_dim 64 (SLA's smallest), widths multiples of 128 (the W8A8 format), 2 layers.
CFG = WanDiTConfig(dim=128, ffn_dim=384, num_heads=2, num_layers=2, text_dim=48, text_len=16)


class StandInSLA(nn.Module):
    """SparseLinearAttention(head_dim, topk, BLKQ=, BLKK=) with our reference inside; takes [B, L, H, D]."""

    def __init__(self, head_dim, topk, BLKQ=64, BLKK=64):  # noqa: N803 (the official keyword names)
        super().__init__()
        self.topk, self.blocks = topk, (BLKQ, BLKK)
        self.proj_l = nn.Linear(head_dim, head_dim)
        nn.init.zeros_(self.proj_l.weight)  # the official init; the swap must overwrite it
        nn.init.zeros_(self.proj_l.bias)

    def forward(self, q, k, v):
        return sla_reference(
            q, k, v, self.proj_l.weight, self.proj_l.bias, topk_ratio=self.topk, block_q=self.blocks[0],
            block_k=self.blocks[1],
        ).to(q.dtype)  # fmt: skip


def stand_in_int8_linear(x, w_q, w_s):
    """int8_linear(x, w_q, w_s): activation quantised per 128x128 tile, INT8 GEMM, no bias."""
    x2 = x.reshape(-1, x.shape[-1])
    xq, xs = quantize_blockwise(x2, 128, "int8", impl="reference")
    y = scaled_mm(xq, xs, w_q, w_s, None, out_dtype=x.dtype, impl="reference")
    return y.reshape(*x.shape[:-1], w_q.shape[0])


class StandInRMSNorm(nn.Module):
    def __init__(self, dim, eps=1e-5):
        super().__init__()
        self.eps = eps
        self.register_buffer("weight", torch.full((dim,), float("nan")))  # must be overwritten

    def forward(self, x):
        xf = x.float()
        return (xf * torch.rsqrt(xf.pow(2).mean(-1, keepdim=True) + self.eps) * self.weight).to(x.dtype)


class StandInLayerNorm(nn.Module):
    def __init__(self, dim, eps=1e-5, elementwise_affine=False, bias=True):
        super().__init__()
        self.dim, self.eps = dim, eps
        if elementwise_affine:
            self.register_buffer("weight", torch.full((dim,), float("nan")))
            self.register_buffer("bias", torch.full((dim,), float("nan")) if bias else None)
        else:
            self.weight = self.bias = None

    def forward(self, x):
        return F.layer_norm(x.float(), (self.dim,), self.weight, self.bias, self.eps).to(x.dtype)


KERNELS = peer_official.PeerKernels(
    sparse_linear_attention=StandInSLA, int8_linear=stand_in_int8_linear, fast_rms_norm=StandInRMSNorm,
    fast_layer_norm=StandInLayerNorm, root="stand-in",
)  # fmt: skip


def _model(backend: str = "sla", quantized: bool = True) -> WanDiT:
    with torch.device("meta"):
        model = WanDiT(CFG, AttentionConfig(backend=backend, sla_topk=0.5, block_q=128, block_k=64))
    state = random_state_dict(model, torch.Generator().manual_seed(8100))
    # Non-zero modulation and proj_l, so the gates, shifts and the linear branch all carry signal.
    state = {k: v + 0.3 if k.endswith("modulation") else v for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    if quantized:
        quantize_(model, Int8Config())
    return model.eval()


def _inputs():
    g = torch.Generator().manual_seed(8101)
    # L = 3 * 10 * 12 / 4 = 90 tokens: not a multiple of either block.
    return (torch.randn(1, 16, 3, 10, 12, generator=g), torch.tensor([700.0]),
            torch.randn(1, 11, CFG.text_dim, generator=g))  # fmt: skip


def test_swapped_model_reproduces_ours():
    x, t, context = _inputs()
    model = _model()
    with torch.no_grad():
        ours = model(x, t, context)
        counts = peer_official.swap_in_peer(model, KERNELS)
        peer = model(x, t, context)
    # Per block: q, k, v, o twice and the two FFN linears; norm1-3 and the four q/k RMSNorms.
    assert counts == {"attention": 2, "int8_linear": 2 * 10, "norm": 2 * 7}
    assert isinstance(model.blocks[0].self_attn.attn_op, peer_official.PeerAttention)
    assert_matches(peer, ours, dtype=torch.float32)


def test_swap_turns_the_fused_path_off():
    model = _model()
    model.enable_fused_ops()
    peer_official.swap_in_peer(model, KERNELS)
    assert not any(getattr(m, "fused_ops", False) for m in model.modules())


@pytest.mark.parametrize(
    ("backend", "quantized", "match"),
    [("sdpa", True, "needs a model built with the 'sla' backend"), ("sla", False, "has no Int8Linear")],
)
def test_swap_refuses_a_model_in_the_wrong_state(backend, quantized, match):
    with pytest.raises(ValueError, match=match):
        peer_official.swap_in_peer(_model(backend, quantized), KERNELS)


def test_official_block_sizes_are_enforced():
    model = _model()
    model.blocks[0].self_attn.attn_op.block_k = 128
    with pytest.raises(ValueError, match="BLKK = 64"):
        peer_official.swap_in_peer(model, KERNELS)


def test_load_peer_says_why_it_cannot_run(tmp_path):
    with pytest.raises(peer_official.PeerUnavailable):
        peer_official.load_peer(tmp_path)
