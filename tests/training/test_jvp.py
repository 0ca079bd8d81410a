"""JVP of dense attention and of the whole DiT denoiser against finite differences and autograd."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.attention.jvp import (
    DenseJVPAttention,
    attention_jvp_reference,
    attention_reference,
    attention_with_jvp,
)
from turbodiffusion.attention.sdpa import sdpa_attention
from turbodiffusion.testing.compare import assert_matches, max_rel, rel_l2
from turbodiffusion.testing.tolerances import JVP_FD_FP64_REL, JVP_FD_STEP, KERNEL_FP32_REL_MAX
from turbodiffusion.training.rcm import enable_jvp_attention, trigflow_denoise

from .tiny import tiny_teacher, trainable_copy


def _qkv(seed: int, B: int, Lq: int, Lk: int, H: int, D: int, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    shapes = [(B, Lq, H, D), (B, Lk, H, D), (B, Lk, H, D)] * 2
    return [torch.randn(s, generator=g, dtype=dtype) for s in shapes]


def _central_difference(f, primals, tangents, h=JVP_FD_STEP):
    plus = f(*[p + h * t for p, t in zip(primals, tangents)])
    minus = f(*[p - h * t for p, t in zip(primals, tangents)])
    return (plus - minus) / (2 * h)


@pytest.mark.parametrize("B,Lq,Lk,H,D", [(1, 1, 1, 1, 8), (2, 17, 17, 3, 16), (1, 33, 5, 2, 12)])
def test_attention_jvp_matches_finite_differences(B, Lq, Lk, H, D):
    q, k, v, dq, dk, dv = _qkv(100 + Lq, B, Lq, Lk, H, D)
    _, do = torch.func.jvp(attention_with_jvp, (q, k, v), (dq, dk, dv))
    fd = _central_difference(attention_reference, (q, k, v), (dq, dk, dv))
    assert rel_l2(do, fd) <= JVP_FD_FP64_REL


def test_attention_jvp_single_tangent_and_reference_agree():
    q, k, v, dq, dk, dv = _qkv(7, 2, 9, 9, 2, 8)
    # Tangent only on v: the op must treat the missing ones as zero.
    _, do_v = torch.func.jvp(lambda vv: attention_with_jvp(q, k, vv), (v,), (dv,))
    _, ref = attention_jvp_reference(q, k, v, torch.zeros_like(q), torch.zeros_like(k), dv)
    assert rel_l2(do_v, ref) <= JVP_FD_FP64_REL


def test_attention_forward_and_backward_match_sdpa():
    q, k, v, *_ = _qkv(3, 2, 19, 19, 2, 16, dtype=torch.float32)
    snapshot = [t.clone() for t in (q, k, v)]
    leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    out = DenseJVPAttention()(*leaves)
    ref_leaves = [t.clone().requires_grad_(True) for t in (q, k, v)]
    ref = sdpa_attention(*ref_leaves)
    assert max_rel(out, ref) <= KERNEL_FP32_REL_MAX
    g = torch.randn(out.shape, generator=torch.Generator().manual_seed(4))
    out.backward(g)
    ref.backward(g)
    for a, b in zip(leaves, ref_leaves):
        assert max_rel(a.grad, b.grad) <= KERNEL_FP32_REL_MAX
    for before, t in zip(snapshot, (q, k, v)):
        assert torch.equal(before, t)


def test_attention_jvp_rejects_mismatched_tangent():
    q, k, v, dq, dk, dv = _qkv(5, 1, 4, 4, 1, 8)
    with pytest.raises(ValueError, match="tangent dk must have its primal's shape"):
        attention_jvp_reference(q, k, v, dq, dk[:, :2], dv)


def test_denoiser_jvp_through_whole_dit_matches_finite_differences():
    # float64 model so the finite difference is meaningful; the tangent runs through the time embedding,
    # the preconditioning coefficients, both attentions and every linear layer.
    student = trainable_copy(tiny_teacher(1)).double()
    assert enable_jvp_attention(student) == 2  # self- and cross-attention of the one block
    g = torch.Generator().manual_seed(11)
    x = torch.randn(2, 16, 2, 4, 6, generator=g, dtype=torch.float64)
    ctx = torch.randn(2, 5, 16, generator=g, dtype=torch.float64)
    t = torch.tensor([0.3, 1.2], dtype=torch.float64)
    dx, dt = (
        torch.randn(x.shape, generator=g, dtype=torch.float64),
        torch.tensor([0.5, -0.2], dtype=torch.float64),
    )

    def f(xx, tt):
        return trigflow_denoise(student, xx, tt, ctx)[1]

    _, tangent = torch.func.jvp(f, (x, t), (dx, dt))
    assert rel_l2(tangent, _central_difference(f, (x, t), (dx, dt))) <= JVP_FD_FP64_REL


def test_enable_jvp_attention_refuses_weighted_backends():
    model = torch.nn.Module()
    model.attn_op = torch.nn.Linear(2, 2)
    with pytest.raises(ValueError, match="rCM trains with full attention"):
        enable_jvp_attention(model)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16])
@pytest.mark.parametrize("B,Lq,Lk,H,D", [(1, 1, 1, 1, 64), (2, 17, 33, 2, 40), (1, 70, 97, 1, 64)])
def test_triton_jvp_kernel_matches_reference(B, Lq, Lk, H, D, dtype, device):
    from turbodiffusion.attention.jvp.kernel import attention_jvp_triton

    inputs = [t.float() for t in _qkv(200 + Lq, B, Lq, Lk, H, D)]
    low = [t.to(device, dtype) for t in inputs]
    snapshot = [t.clone() for t in low]
    o, do = attention_jvp_triton(*low)
    truth_o, truth_do = attention_jvp_reference(*inputs)
    eager_o, eager_do = attention_jvp_reference(*low)  # same low-precision inputs, fp32 inside
    assert_matches(o.cpu(), truth_o, eager=eager_o.cpu(), dtype=dtype)
    assert_matches(do.cpu(), truth_do, eager=eager_do.cpu(), dtype=dtype)
    assert all(torch.equal(a, b) for a, b in zip(snapshot, low))


def test_triton_jvp_through_module_and_non_contiguous_view(device):
    q, k, v, dq, dk, dv = (t.float().to(device) for t in _qkv(9, 1, 20, 20, 2, 64))
    q_view = q.transpose(1, 2).contiguous().transpose(1, 2)  # same values, non-contiguous strides
    _, tangent = torch.func.jvp(DenseJVPAttention(impl="triton"), (q_view, k, v), (dq, dk, dv))
    _, ref = attention_jvp_reference(q, k, v, dq, dk, dv)
    assert_matches(tangent.cpu(), ref.cpu(), dtype=torch.float32)


def test_triton_jvp_kernel_validation():
    from turbodiffusion.attention.jvp.kernel import attention_jvp_triton

    q, k, v, dq, dk, dv = (t.float() for t in _qkv(1, 1, 4, 4, 1, 16))
    with pytest.raises(ValueError, match="tangent dq must have its primal's shape"):
        attention_jvp_triton(q, k, v, dq[:, :1], dk, dv)
    with pytest.raises(ValueError, match="needs one dtype among fp32/bf16/fp16"):
        attention_jvp_triton(q, k, v, dq.double(), dk, dv)
    big = torch.zeros(1, 2, 1, 288)
    with pytest.raises(ValueError, match="head dim D must be <= 256"):
        attention_jvp_triton(big, big, big, big, big, big)
    with pytest.raises(ValueError, match='impl must be "auto", "triton" or "reference"'):
        DenseJVPAttention(impl="cuda")
