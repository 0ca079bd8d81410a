"""SLA reference vs an independent dense construction: block mask -> SDPA, plus the linear branch written
as a quadratic form (shared/docs/attention.md §2.2-2.4, §8)."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.reference import sla_reference, sparse_branch_reference
from turbodiffusion.testing.compare import max_rel
from turbodiffusion.testing.tolerances import KERNEL_FP32_REL_MAX


def token_mask(block_map, block_q, block_k, seq):
    """The block map [B, H, Mq, Mk] spread to tokens: bool [B, H, L, L]."""
    mask = block_map.bool().repeat_interleave(block_q, dim=-2)[..., :seq, :]
    return mask.repeat_interleave(block_k, dim=-1)[..., :seq]


def dense_sla(q, k, v, weight, bias, block_map, block_q, block_k, eps=1e-5):
    """o = SDPA(mask from the block map) + proj_l(A v / (eps + A 1)) with A = phi(q) phi(k)^T, in fp64."""
    seq = q.shape[1]
    qd, kd, vd = (t.double().transpose(1, 2) for t in (q, k, v))  # [B, H, L, D]
    o_s = F.scaled_dot_product_attention(qd, kd, vd, attn_mask=token_mask(block_map, block_q, block_k, seq))
    a = qd.softmax(-1) @ kd.softmax(-1).transpose(-1, -2)  # linear-attention weights, all L keys
    o_l = (a @ vd) / (eps + a.sum(-1, keepdim=True))
    o = o_s + o_l @ weight.double().T + bias.double()
    return o.transpose(1, 2)


def make_case(seed, b, seq, h, d, dtype=torch.float32):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, seq, h, d, generator=g)
    k = torch.randn(b, seq, h, d, generator=g) + torch.randn(d, generator=g)  # K with a per-channel mean
    v = torch.randn(b, seq, h, d, generator=g)
    weight = torch.randn(d, d, generator=g) / d**0.5
    bias = torch.randn(d, generator=g)
    return q.to(dtype), k.to(dtype), v.to(dtype), weight, bias


@pytest.mark.parametrize(("block_q", "block_k"), [(64, 32), (32, 64)])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize(("b", "h"), [(1, 1), (2, 3)])
@pytest.mark.parametrize("seq", [1, 17, 200, 333])
def test_reference_matches_dense_masked_attention(seq, b, h, d, block_q, block_k):
    q, k, v, weight, bias = make_case(seq + 10 * d + block_q, b, seq, h, d)
    sel = select_blocks(q, k, block_q, block_k, 0.5)
    out = sla_reference(q, k, v, weight, bias, topk_ratio=0.5, block_q=block_q, block_k=block_k)
    truth = dense_sla(q, k, v, weight, bias, sel.block_map, block_q, block_k)
    assert out.shape == q.shape and out.dtype == q.dtype
    assert max_rel(out, truth) <= KERNEL_FP32_REL_MAX


def test_reference_with_bf16_selection_matches_dense_masked_attention():
    q, k, v, weight, bias = make_case(5, 2, 333, 2, 128, torch.bfloat16)
    sel = select_blocks(q, k, 64, 32, 0.3)  # in bf16, as the official code selects; topk = 3 of 11
    assert sel.topk == 3
    out = sla_reference(q.float(), k.float(), v.float(), weight, bias, topk_ratio=0.3, block_q=64, block_k=32,
                        selection=sel)  # fmt: skip
    truth = dense_sla(q, k, v, weight, bias, sel.block_map, 64, 32)
    assert max_rel(out, truth) <= KERNEL_FP32_REL_MAX


def test_reference_takes_strided_views_and_leaves_inputs_unchanged():
    g = torch.Generator().manual_seed(6)
    qkv = torch.randn(1, 200, 3, 2, 64, generator=g)
    q, k, v = qkv.unbind(2)  # non-contiguous views
    weight, bias = torch.randn(64, 64, generator=g) / 8, torch.randn(64, generator=g)
    before = qkv.clone()
    out = sla_reference(q, k, v, weight, bias, topk_ratio=0.5, block_q=64, block_k=64)
    sel = select_blocks(q, k, 64, 64, 0.5)
    assert max_rel(out, dense_sla(q, k, v, weight, bias, sel.block_map, 64, 64)) <= KERNEL_FP32_REL_MAX
    assert torch.equal(qkv, before)


def test_full_selection_with_zero_projection_is_plain_attention():
    q, k, v, weight, bias = make_case(7, 1, 100, 2, 64)
    out = sla_reference(q, k, v, torch.zeros_like(weight), torch.zeros_like(bias), topk_ratio=1.0,
                        block_q=64, block_k=32)  # fmt: skip
    sdpa = F.scaled_dot_product_attention(*(t.transpose(1, 2) for t in (q, k, v))).transpose(1, 2)
    assert max_rel(out, sdpa) <= KERNEL_FP32_REL_MAX


@pytest.mark.parametrize("chunk", [1, 2, 64])
@pytest.mark.parametrize(("seq", "block_q", "block_k"), [(333, 32, 64), (256, 64, 32)])
def test_sparse_branch_is_the_same_in_any_chunking_and_its_gradients_are_dense_autograds(
    seq, block_q, block_k, chunk
):
    q, k, v, _, _ = make_case(seq + chunk, 2, seq, 2, 64)
    sel = select_blocks(q, k, block_q, block_k, 0.4)
    leaves = [t.transpose(1, 2).clone().requires_grad_() for t in (q, k, v)]  # [B, H, L, D]
    out = sparse_branch_reference(*leaves, sel.lut, block_q, block_k, query_blocks_per_chunk=chunk)
    grad_out = torch.randn(out.shape, generator=torch.Generator().manual_seed(chunk))
    grads = torch.autograd.grad(out, leaves, grad_out)

    dense = [t.detach().double().requires_grad_() for t in leaves]
    truth = F.scaled_dot_product_attention(*dense, attn_mask=token_mask(sel.block_map, block_q, block_k, seq))
    truth_grads = torch.autograd.grad(truth, dense, grad_out.double())
    assert max_rel(out, truth) <= KERNEL_FP32_REL_MAX
    for g, t in zip(grads, truth_grads):
        assert max_rel(g, t) <= KERNEL_FP32_REL_MAX
