"""Fused cross-attention (q's RMSNorm + attention to the text keys) vs its fp32 reference, by the error-ratio
rule against the plain path (ops.rms_norm then sdpa); ragged lengths, key tiles, dropped keys, bad inputs."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.attention.sdpa import sdpa_attention
from turbodiffusion.ops.rms_norm import rms_norm_reference
from turbodiffusion.ops.text_attention import text_attention, text_attention_reference
from turbodiffusion.testing.compare import assert_matches

# (B, L, heads, head_dim, Lk): ragged L across programs, one key tile and several (Lk 70 > 64), Wan's 128.
CASES = [(2, 37, 3, 32, 5), (1, 9, 2, 16, 24), (2, 40, 2, 64, 70), (1, 33, 4, 128, 29)]


def _inputs(B, L, heads, head_dim, keys, dtype, device, seed):
    g = torch.Generator().manual_seed(seed)
    dim = heads * head_dim
    q = (torch.randn(B, L, dim, generator=g) * 3 + 0.5).to(device, dtype)
    w = (1 + 0.1 * torch.randn(dim, generator=g)).to(device)
    # Keys as the cache holds them (RMSNorm'd: unit RMS times a weight), scaled up so the softmax is peaked.
    k = (2 * torch.randn(B, keys, heads, head_dim, generator=g)).to(device, dtype)
    v = torch.randn(B, keys, heads, head_dim, generator=g).to(device, dtype)
    return q, w, k, v


def _bias(keys, dtype, device):
    """The text padding's kind of bias: log-weights on the last keys, the very last one dropped."""
    bias = torch.zeros(keys)
    bias[-3:] = torch.tensor([0.6931471805599453, -1.0, float("-inf")])[-keys:] if keys >= 3 else 0.5
    return bias.to(device, dtype)


def _plain(q, w, k, v, bias):
    """The model's unfused path: RMSNorm rounded to q's dtype, then attention."""
    heads = k.shape[2]
    qn = rms_norm_reference(q, w).unflatten(-1, (heads, -1))
    return sdpa_attention(qn, k, v, bias)


@pytest.mark.parametrize("B, L, heads, head_dim, keys", CASES)
@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
@pytest.mark.parametrize("with_bias", [False, True])
def test_text_attention_matches_reference(B, L, heads, head_dim, keys, dtype, with_bias, device):
    q, w, k, v = _inputs(B, L, heads, head_dim, keys, dtype, device, 300 + L + keys * head_dim)
    bias = _bias(keys, dtype, device) if with_bias else None
    before = q.clone()
    out = text_attention(q, w, k, v, bias, impl="triton")
    assert torch.equal(q, before), "input was modified"
    assert out.shape == (B, L, heads, head_dim) and out.dtype == dtype
    cpu = [t.cpu() if t is not None else None for t in (q, w, k, v, bias)]
    truth = text_attention_reference(*[t.float() if t is not None else None for t in cpu])
    assert_matches(out, truth, eager=_plain(*cpu), dtype=dtype)


def test_reference_is_the_plain_path_in_fp32():
    q, w, k, v = _inputs(2, 11, 3, 16, 7, torch.float32, "cpu", 4)
    bias = _bias(7, torch.float32, "cpu")
    torch.testing.assert_close(text_attention_reference(q, w, k, v, bias), _plain(q, w, k, v, bias))


def test_text_attention_strided_inputs(device):
    """q rows with a stride (a slice of a wider projection) and k, v as [B, H, Lk, D] transposed views."""
    g = torch.Generator().manual_seed(8)
    base = torch.randn(2, 30, 200, generator=g).to(device, torch.bfloat16)
    q = base[:, ::2, 8:136]  # [2, 15, 128]: 2 heads of 64
    w = torch.randn(128, generator=g).to(device)
    k = torch.randn(2, 2, 19, 64, generator=g).to(device, torch.bfloat16).transpose(1, 2)
    v = torch.randn(2, 2, 19, 64, generator=g).to(device, torch.bfloat16).transpose(1, 2)
    out = text_attention(q, w, k, v, impl="triton")
    cpu = [t.cpu() for t in (q, w, k, v)]
    truth = text_attention_reference(*[t.float() for t in cpu])
    assert_matches(out, truth, eager=_plain(*cpu, None), dtype=torch.bfloat16)


def test_auto_uses_the_reference_on_cpu_and_for_odd_heads(monkeypatch):
    from turbodiffusion.ops import text_attention as module

    calls = []
    real = module.text_attention_reference
    monkeypatch.setattr(module, "text_attention_reference", lambda *a: calls.append(1) or real(*a))
    q, w, k, v = _inputs(1, 5, 2, 16, 3, torch.float32, "cpu", 1)
    text_attention(q, w, k, v)
    assert calls == [1]


@pytest.mark.parametrize("impl", ["reference", "triton"])
def test_text_attention_invalid_inputs_raise(impl, device):
    q, w, k, v = _inputs(2, 5, 2, 32, 4, torch.float32, device, 2)
    with pytest.raises(ValueError, match=r"q must be \[B, L, dim\]"):
        text_attention(q[0], w, k, v, impl=impl)
    with pytest.raises(ValueError, match=r"weight must be \[dim\]"):
        text_attention(q, w[:32], k, v, impl=impl)
    with pytest.raises(ValueError, match=r"H \* D = dim = 64"):
        text_attention(q, w, k[:, :, :1], v[:, :, :1], impl=impl)
    with pytest.raises(ValueError, match="must have the same shape"):
        text_attention(q, w, k, v[:, :3], impl=impl)
    with pytest.raises(ValueError, match="k must be q's dtype"):
        text_attention(q, w, k.half(), v, impl=impl)
    with pytest.raises(ValueError, match=r"key_bias must be \[Lk\] = \[4\]"):
        text_attention(q, w, k, v, torch.zeros(3, device=device), impl=impl)
    with pytest.raises(ValueError, match="impl must be"):
        text_attention(q, w, k, v, impl="cuda")


def test_triton_rejects_head_sizes_it_cannot_tile(device):
    q, w, k, v = _inputs(1, 4, 2, 24, 3, torch.float32, device, 3)
    with pytest.raises(ValueError, match="powers of two from 16 to 256"):
        text_attention(q, w, k, v, impl="triton")
    assert text_attention(q, w, k, v).shape == (1, 4, 2, 24)  # auto: the reference takes any size
