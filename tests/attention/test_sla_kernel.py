"""SLA Triton kernels vs the reference: outputs and gradients of q, k, v and proj_l (on the CPU through
TRITON_INTERPRET=1, set by tests/conftest.py). Shapes stay small: the interpreter is slow."""

from __future__ import annotations

import os
import sys

import pytest
import torch
from torch import nn

from turbodiffusion.attention import AttentionConfig, build_attention
from turbodiffusion.attention.sla import SLAAttention, sla_attention
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.reference import sla_reference
from turbodiffusion.errors import MissingDependencyError
from turbodiffusion.testing.compare import assert_matches
from turbodiffusion.testing.sm90_compile import build_report, cuobjdump


def make_case(seed, b, seq, h, d, dtype, device):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, seq, h, d, generator=g)
    k = torch.randn(b, seq, h, d, generator=g) + torch.randn(d, generator=g)
    v = torch.randn(b, seq, h, d, generator=g)
    do = torch.randn(b, seq, h, d, generator=g)
    proj = nn.Linear(d, d)
    with torch.no_grad():  # non-zero, unlike a fresh layer, so the linear branch is tested
        proj.weight.copy_(torch.randn(d, d, generator=g) / d**0.5)
        proj.bias.copy_(torch.randn(d, generator=g))
    return *(t.to(device, dtype) for t in (q, k, v, do)), proj.to(device)


def run_with_grads(fn, q, k, v, do, proj):
    leaves = [t.detach().clone().requires_grad_() for t in (q, k, v)]
    proj.zero_grad()
    out = fn(*leaves, proj)
    out.backward(do)
    return out.detach(), [t.grad for t in leaves] + [proj.weight.grad.clone(), proj.bias.grad.clone()]


CASES = [  # (b, seq, h, d, block_q, block_k, topk): ragged L, B 1 and 2, BLKQ != BLKK, topk > 1
    (1, 1, 1, 64, 64, 64, 0.5),
    (2, 17, 2, 64, 32, 64, 1.0),
    (1, 200, 2, 64, 64, 32, 0.45),
    (2, 100, 1, 128, 128, 64, 0.5),
    (1, 333, 2, 128, 64, 128, 0.7),
]


@pytest.mark.parametrize(("b", "seq", "h", "d", "block_q", "block_k", "topk"), CASES)
def test_kernel_forward_and_backward_match_reference_fp32(b, seq, h, d, block_q, block_k, topk, device):
    q, k, v, do, proj = make_case(seq + d, b, seq, h, d, torch.float32, device)
    sel = select_blocks(q, k, block_q, block_k, topk)
    kw = dict(topk=topk, block_q=block_q, block_k=block_k, selection=sel)
    out, grads = run_with_grads(lambda *a: sla_attention(*a, impl="triton", **kw), q, k, v, do, proj)
    ref, ref_grads = run_with_grads(lambda *a: sla_attention(*a, impl="reference", **kw), q, k, v, do, proj)
    assert_matches(out, ref, dtype=torch.float32)
    for name, g, r in zip(("dq", "dk", "dv", "dW", "db"), grads, ref_grads):
        assert g.dtype == r.dtype, name
        if name in ("dq", "dk") and seq == 1:
            # One key: the sparse softmax is constant in q and k, so its exact dq, dk are 0. Autograd gets
            # 0; the kernel gets rounding noise (dP = dO.V and delta = rowsum(dO * O) summed in other
            # orders), which swamps the small linear-branch gradient in a relative metric.
            continue
        assert_matches(g, r, dtype=torch.float32)


@pytest.mark.parametrize(("seq", "block_q", "block_k"), [(150, 64, 64), (97, 128, 64)])
def test_kernel_bf16_meets_the_error_ratio_rule(seq, block_q, block_k, device):
    q, k, v, do, proj = make_case(seq, 2, seq, 2, 64, torch.bfloat16, device)
    sel = select_blocks(q, k, block_q, block_k, 0.5)  # bf16 selection, shared by all three runs
    kw = dict(topk_ratio=0.5, block_q=block_q, block_k=block_k, selection=sel)

    def ref32(q_, k_, v_, p):
        return sla_reference(q_.float(), k_.float(), v_.float(), p.weight, p.bias, **kw)

    def eager(q_, k_, v_, p):  # the official code's bf16 compute, as the reference imitates it
        return sla_reference(q_, k_, v_, p.weight, p.bias, compute_dtype=torch.bfloat16, **kw)

    out, grads = run_with_grads(
        lambda *a: sla_attention(*a, impl="triton", topk=0.5, block_q=block_q, block_k=block_k, selection=sel),
        q, k, v, do, proj,
    )  # fmt: skip
    truth, truth_grads = run_with_grads(ref32, q, k, v, do, proj)
    low, low_grads = run_with_grads(eager, q, k, v, do, proj)
    assert out.dtype == torch.bfloat16
    assert_matches(out, truth, eager=low, dtype=torch.bfloat16)
    for g, t, e in zip(grads, truth_grads, low_grads):
        assert_matches(g, t, eager=e, dtype=torch.bfloat16)


def test_kernel_takes_strided_views_and_leaves_inputs_unchanged(device):
    g = torch.Generator().manual_seed(8)
    qkv = torch.randn(1, 77, 3, 2, 64, generator=g).to(device)
    q, k, v = qkv.unbind(2)  # rows strided by 3 * H * D, last dim contiguous
    proj = nn.Linear(64, 64).to(device)
    before = qkv.clone()
    out = sla_attention(q, k, v, proj, topk=0.5, block_q=32, block_k=32, impl="triton")
    ref = sla_attention(q, k, v, proj, topk=0.5, block_q=32, block_k=32, impl="reference")
    assert_matches(out.detach(), ref.detach(), dtype=torch.float32)
    assert torch.equal(qkv, before)


def test_module_holds_proj_l_under_the_checkpoint_name():
    module = build_attention(AttentionConfig(backend="sla", sla_topk=0.2, block_q=64, block_k=64), 128)
    assert isinstance(module, SLAAttention)
    state = module.state_dict()
    assert set(state) == {"local_attn.proj_l.weight", "local_attn.proj_l.bias"}
    assert state["local_attn.proj_l.weight"].shape == (128, 128) and state[
        "local_attn.proj_l.bias"
    ].shape == (128,)
    assert all(t.dtype == torch.float32 and not t.any() for t in state.values())  # fp32, zero-initialised


def test_module_forward_runs_the_kernel_and_logs_the_cpu_fallback_once(device, caplog):
    q, k, v, _, proj = make_case(9, 1, 65, 2, 64, torch.float32, device)
    module = SLAAttention(64, topk=0.5, block_q=64, block_k=32).to(device)
    module.local_attn.proj_l.load_state_dict(proj.state_dict())
    with caplog.at_level("WARNING"):
        out = module(q, k, v)
        module(q, k, v)
    ref = sla_attention(q, k, v, proj, topk=0.5, block_q=64, block_k=32, impl="reference")
    assert_matches(out.detach(), ref.detach(), dtype=torch.float32)
    if device == "cpu":
        assert sum("reference" in r.message for r in caplog.records) == 1


def test_triton_without_the_package_raises_missing_dependency(monkeypatch):
    q = torch.randn(1, 16, 1, 64)
    monkeypatch.setitem(sys.modules, "triton", None)
    with pytest.raises(MissingDependencyError, match=r"turbodiffusion\[kernels\]"):
        sla_attention(q, q, q, nn.Linear(64, 64), topk=0.5, impl="triton")


def test_kernel_on_cpu_without_the_interpreter_raises(monkeypatch):
    monkeypatch.setenv("TRITON_INTERPRET", "0")
    q = torch.randn(1, 16, 1, 64)
    with pytest.raises(ValueError, match=r'impl="triton" needs CUDA tensors \(got cpu\)'):
        sla_attention(q, q, q, nn.Linear(64, 64), topk=0.5, impl="triton")


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (dict(d=96), r"head dim D in \(64, 128\)"),
        (dict(topk=0.0), r"topk must be in \(0, 1\]"),
        (dict(topk=1.5), r"topk must be in \(0, 1\]"),
        (dict(block_q=48), "block_q and block_k must be in"),
        (dict(impl="cuda"), 'impl must be "auto"'),
        (dict(k_len=32), "must have one shape"),
        (dict(k_dtype=torch.float64), "must share one dtype"),
        (dict(dtype=torch.int32), "must be floating point"),
        (dict(rank3=True), r"must be \[B, L, H, D\]"),
    ],
)
def test_sla_attention_rejects_bad_inputs(change, message):
    d = change.get("d", 64)
    q = torch.randn(1, 16, 2, d).to(change.get("dtype", torch.float32))
    k = torch.randn(1, change.get("k_len", 16), 2, d).to(change.get("k_dtype", q.dtype))
    if change.get("rank3"):
        q = q[0]
    with pytest.raises(ValueError, match=message):
        sla_attention(q, k, k, nn.Linear(d, d), topk=change.get("topk", 0.5), block_q=change.get("block_q", 64),
                      impl=change.get("impl", "reference"))  # fmt: skip


def test_kernel_launchers_reject_what_the_kernels_cannot_take(device):
    from turbodiffusion.attention.sla.kernel_fwd import sla_forward_triton

    q = torch.randn(1, 16, 2, 64, device=device)
    lut = torch.zeros(1, 2, 1, 1, dtype=torch.int64, device=device)
    w, b = torch.zeros(64, 64, device=device), torch.zeros(64, device=device)
    with pytest.raises(ValueError, match="contiguous last dim"):
        sla_forward_triton(
            q.transpose(-1, -2).contiguous().transpose(-1, -2),
            q,
            q,
            lut,
            w,
            b,
            block_q=64,
            block_k=64,
            eps=1e-5,
        )
    with pytest.raises(ValueError, match="takes torch.float32"):
        sla_forward_triton(q.double(), q.double(), q.double(), lut, w, b, block_q=64, block_k=64, eps=1e-5)
    with pytest.raises(ValueError, match=r"lut must be \[B, H, Mq, topk\]"):
        sla_forward_triton(q, q, q, lut[:, :1], w, b, block_q=64, block_k=64, eps=1e-5)
    with pytest.raises(ValueError, match=r"proj_l must be Linear\(64, 64\)"):
        sla_forward_triton(q, q, q, lut, w[:32], b, block_q=64, block_k=64, eps=1e-5)


@pytest.mark.parametrize(
    ("b", "seq", "h", "d"), [(1, 1, 1, 64), (2, 17, 2, 64), (1, 200, 2, 128), (2, 333, 1, 64)]
)
def test_linear_branch_kernel_matches_proj_of_the_reference_fp32(b, seq, h, d, device):
    """The standalone linear-branch kernel (SageSLA's) walks several row tiles per program: ragged L, B, H."""
    from turbodiffusion.attention.sla.kernel_fwd import linear_branch_triton, summarize_kv
    from turbodiffusion.attention.sla.reference import LINEAR_EPS, linear_branch_reference

    q, k, v, _, proj = make_case(7, b, seq, h, d, torch.float32, device)
    out = torch.full_like(q, float("nan"))  # every element must be written
    state = summarize_kv(k, v)
    linear_branch_triton(q, state.kv, state.ksum, proj.weight, proj.bias, LINEAR_EPS / seq, out)
    o_l = linear_branch_reference(*(t.transpose(1, 2).double() for t in (q, k, v)), LINEAR_EPS)
    truth = proj.double()(o_l.transpose(1, 2))
    assert_matches(out, truth.float(), dtype=torch.float32)


@pytest.mark.parametrize(("seq", "d"), [(150, 64), (333, 128)])
def test_linear_branch_kernel_bf16_meets_the_error_ratio_rule(seq, d, device):
    """bf16 inputs: no worse than twice the official order of bf16 roundings (phi(q) KV, divided, rounded,
    then proj_l) against the float64 truth."""
    from turbodiffusion.attention.sla.kernel_fwd import linear_branch_triton, summarize_kv
    from turbodiffusion.attention.sla.reference import LINEAR_EPS, linear_branch_reference

    q, k, v, _, proj = make_case(seq + d, 2, seq, 2, d, torch.bfloat16, device)
    out = torch.full_like(q, float("nan"))
    state = summarize_kv(k, v)
    linear_branch_triton(q, state.kv, state.ksum, proj.weight, proj.bias, LINEAR_EPS / seq, out)
    heads = [t.transpose(1, 2) for t in (q, k, v)]  # [B, H, L, D]
    truth = proj.double()(linear_branch_reference(*(t.double() for t in heads), LINEAR_EPS).transpose(1, 2))
    o_l = linear_branch_reference(*heads, LINEAR_EPS).transpose(1, 2)  # bf16 throughout, as the official code
    eager = torch.nn.functional.linear(o_l, proj.weight.bfloat16(), proj.bias.bfloat16())
    assert out.dtype == torch.bfloat16
    assert_matches(out, truth.float(), eager=eager, dtype=torch.bfloat16)


@pytest.mark.parametrize(
    ("b", "seq", "h", "d", "dtype"), [(1, 1, 1, 64, torch.float32), (2, 200, 2, 128, torch.bfloat16)]
)
def test_summarize_kv_gives_the_state_and_the_column_statistics_in_one_pass(b, seq, h, d, dtype, device):
    """The K mean (smoothing, selection) and V maxima (FP8 scale) come from the pass that builds the linear
    state: each equals its torch definition, and asking for them leaves the state unchanged."""
    from turbodiffusion.attention.sla.kernel_fwd import summarize_kv

    q, k, v, _, _ = make_case(11, b, seq, h, d, dtype, device)
    both = summarize_kv(k, v, state=True, stats=True)
    state_only = summarize_kv(k, v)
    assert torch.equal(both.kv, state_only.kv) and torch.equal(both.ksum, state_only.ksum)
    assert state_only.k_mean is None and state_only.v_amax is None
    stats = summarize_kv(k, v, state=False, stats=True)
    assert stats.kv is None and stats.ksum is None
    assert torch.equal(stats.v_amax, v.float().abs().amax(dim=1))  # a max does not depend on the order
    torch.testing.assert_close(stats.k_mean, k.float().mean(dim=1), rtol=1e-5, atol=1e-6)
    assert torch.equal(stats.k_mean, both.k_mean) and torch.equal(stats.v_amax, both.v_amax)
    with pytest.raises(ValueError, match="state=True or stats=True"):
        summarize_kv(k, v, state=False, stats=False)


@pytest.mark.parametrize(("seq", "d", "dtype"), [(77, 64, torch.float32), (300, 128, torch.bfloat16)])
def test_summarize_kv_folds_the_weight_into_the_state(seq, d, dtype, device):
    """m = KV W^T from the summary's second kernel (an fp32 MMA of the rounded KV and the weight cast to
    k's dtype, rounded once; fp32 inputs on a GPU take the float64 product itself) against the float64
    product of the same operands rounded once: equal but for a last-bit tie; KV and ksum are what the
    summary gives without the weight."""
    from turbodiffusion.attention.sla.kernel_fwd import premultiplied_state, summarize_kv

    _, k, v, _, _ = make_case(5, 2, seq, 3, d, dtype, device)
    g = torch.Generator().manual_seed(7)
    weight = torch.randn(d, d, generator=g).to(device) / d**0.5  # fp32, as proj_l stores it
    folded = summarize_kv(k, v, state=True, stats=True, weight=weight)
    plain = summarize_kv(k, v, state=True, stats=True)
    assert torch.equal(folded.kv, plain.kv) and torch.equal(folded.ksum, plain.ksum)
    assert torch.equal(folded.k_mean, plain.k_mean) and plain.m is None
    truth = premultiplied_state(folded.kv, weight)
    assert folded.m.dtype == dtype and folded.m.shape == truth.shape
    # One unit in the last place of the result, plus the fp32 sum's own rounding bound (d terms).
    magnitude = folded.kv.double().abs() @ weight.to(dtype).double().abs().t()
    bound = torch.finfo(dtype).eps * truth.double().abs() + d * torch.finfo(torch.float32).eps * magnitude
    assert ((folded.m.double() - truth.double()).abs() <= bound).all()
    if dtype == torch.bfloat16:  # the fp32 sum's error is far below bf16's step: equal but for ties
        assert (folded.m == truth).float().mean() > 0.99
    with pytest.raises(ValueError, match="state=True"):
        summarize_kv(k, v, state=False, stats=True, weight=weight)
    with pytest.raises(ValueError, match="weight must be"):
        summarize_kv(k, v, weight=weight[:, :16])


def test_only_16_bit_inputs_on_a_gpu_autotune(monkeypatch):
    """fp32 launches (the exactness dtype, FMA-emulated dots, 22-53 s a config to compile) and the
    interpreter take one config; bf16/fp16 (PRECISION tf32 or bf16 paths) on a GPU autotune. The
    environment is set both ways here, so the test means the same on a CPU-only machine and a GPU one."""
    from turbodiffusion.attention.sla.kernel_fwd import tunes

    monkeypatch.setenv("TRITON_INTERPRET", "1")
    assert not tunes({"PRECISION": "ieee"}) and not tunes({"PRECISION": "upcast"})
    assert not tunes({"PRECISION": "tf32"})
    monkeypatch.delenv("TRITON_INTERPRET")
    assert tunes({"PRECISION": "tf32"})
    assert not tunes({"PRECISION": "ieee"})


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
def test_sla_forward_builds_in_fp32_when_torch_compile_types_its_floats_as_fp64():
    """Inductor passes Python floats (qk_scale, eps) to a kernel as fp64; the kernel takes them to fp32 first,
    so it builds (it did not before) with no fp64 arithmetic."""
    for floats in ("fp32", "fp64"):
        report = build_report("sla_fwd", floats)
        assert report["fp64_ops"] == 0 and report["stack"] == 0, (floats, report)
