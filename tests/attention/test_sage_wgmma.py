"""The Hopper sparse Sage kernel (``kernel_wgmma``, Gluon): which launches it serves, that it compiles for
sm_90 (on any machine: Triton ships ptxas), and on an sm_90 GPU that it gives ``_sage_fwd_kernel``'s result
on the same quantised operands (the CPU interpreter cannot run Gluon; the Triton kernel it must equal is
tested against the reference in test_sage.py)."""

from __future__ import annotations

import math
import os

import pytest
import torch
from torch import nn

from turbodiffusion.attention.sage.kernel import sage_forward_triton, wgmma_applies
from turbodiffusion.attention.sagesla import sagesla_attention
from turbodiffusion.attention.sla.block_map import select_blocks
from turbodiffusion.attention.sla.kernel_fwd import premultiplied_state
from turbodiffusion.testing.compare import assert_matches
from turbodiffusion.testing.sm90_compile import build_report, cuobjdump

ON_SM90 = torch.cuda.is_available() and torch.cuda.get_device_capability() == (9, 0)


def qkv(seed, b, seq, h, d, device):
    g = torch.Generator().manual_seed(seed)
    q, k, v = (torch.randn(b, seq, h, d, generator=g) for _ in range(3))
    k = k + 2.0 * torch.randn(d, generator=g)  # K's channel bias, which the smoothing removes
    return [t.to(device, torch.bfloat16) for t in (q, k, v)]


def test_wgmma_serves_only_sparse_fp8_sm90_blocks():
    q = torch.zeros(1, 8, 1, 128)
    assert not wgmma_applies(q, True, "fp8", 64, 128), "CPU tensors never take the Gluon kernel"
    meta = torch.zeros(1, 8, 1, 128, device="meta")
    assert not wgmma_applies(meta, True, "fp8", 64, 128)
    if ON_SM90:
        cuda = torch.zeros(1, 8, 1, 128, device="cuda")
        assert wgmma_applies(cuda, True, "fp8", 64, 128)
        for args in ((False, "fp8", 64, 128), (True, "half", 64, 128), (True, "fp8", 128, 64)):
            assert not wgmma_applies(cuda, *args)
        assert not wgmma_applies(torch.zeros(1, 8, 1, 96, device="cuda"), True, "fp8", 64, 128)


def test_kernel_choice_is_checked(device):
    q, k, v = qkv(0, 1, 70, 2, 64, device)
    with pytest.raises(ValueError, match='kernel must be "auto", "triton" or "wgmma"'):
        sage_forward_triton(q, k, v, block_q=64, block_k=128, kernel="cuda")
    if not ON_SM90:
        with pytest.raises(ValueError, match="compute-capability 9.0 GPU"):
            sage_forward_triton(q, k, v, block_q=64, block_k=128, kernel="wgmma")


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
@pytest.mark.parametrize(("d", "linear"), [(128, True), (128, False), (64, True), (64, False)])
def test_kernel_compiles_for_sm90_without_spills(d, linear):
    report = build_report(d, int(linear))
    assert report["stack"] == 0 and not report["local_loads"], f"register spills: {report}"
    # Both products asynchronous: the wait for Q.K^T leaves one group (P~.V) in flight (ptxas then waits for
    # it before the softmax: kernel_wgmma's docstring says why).
    assert 1 in report["mma_waits"], report
    assert report["shared"] <= 113 * 1024, f"two programs must share a multiprocessor: {report}"
    # P~ reaches its P~.V in registers: no stores to shared memory in the loop, and the layout conversion to
    # the MMA's operand moves no bytes (a conversion that did cost ~120 byte permutes a tile).
    assert report["loop"]["shared_stores"] == 0 and report["loop"]["byte_permutes"] == 0, report


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
def test_kernel_builds_the_same_when_torch_compile_types_its_floats_as_fp64():
    """Inductor passes Python floats (qk_scale, eps) to a kernel as fp64; the kernel takes them to fp32 first,
    so it builds (it did not before) and to the same binary: no fp64 arithmetic, the same loop."""
    assert build_report(128, 1, "fp64") == build_report(128, 1)


@pytest.mark.skipif(not ON_SM90, reason="the Gluon kernel runs on compute-capability 9.0 GPUs only")
@pytest.mark.parametrize(
    ("b", "h", "seq", "d", "ratio", "linear"),
    [(1, 2, 1000, 128, 0.1, False), (2, 3, 4097, 128, 0.1, True), (1, 2, 300, 64, 0.34, False),
     (1, 1, 129, 128, 0.5, True), (1, 4, 8190, 64, 0.2, True)],
)  # fmt: skip
def test_wgmma_equals_the_triton_kernel(b, h, seq, d, ratio, linear):
    q, k, v = qkv(seq + d, b, seq, h, d, "cuda")
    sel = select_blocks(q, k, 64, 128, ratio)
    proj = None
    if linear:
        g = torch.Generator().manual_seed(seq)
        proj = ((torch.randn(d, d, generator=g) / 8).cuda(), torch.randn(d, generator=g).cuda())
    kw = dict(block_q=64, block_k=128, pv="fp8", lut=sel.lut, proj=proj, eps=1e-6)
    triton_out = sage_forward_triton(q, k, v, kernel="triton", **kw)
    wgmma_out = sage_forward_triton(q, k, v, kernel="wgmma", **kw)
    # Without the linear branch: same operands and arithmetic, but the Gluon kernel's P~.V sums each tile's
    # keys in key_permutation's order (one bf16 step apart on the H200's shapes, benchmarks/runs/
    # h200-2026-12-03h). With it, the Triton path rounds the branch to bf16 before adding it, the Gluon
    # epilogue adds it unrounded (and m = KV W^T comes from the K/V summary's kernel instead of each
    # program's own MMA: another summation order). Either way: within one bf16 step at the output's scale.
    diff = (wgmma_out.float() - triton_out.float()).abs().max().item()
    ulp = torch.finfo(torch.bfloat16).eps * triton_out.float().abs().max().item()
    assert diff <= ulp, f"max |wgmma - triton| = {diff} (bf16 ulp at the output's scale {ulp})"


def test_premultiplied_state_is_kv_times_the_cast_weight_transposed():
    g = torch.Generator().manual_seed(0)
    kv = torch.randn(2, 3, 64, 64, generator=g).to(torch.bfloat16)
    weight = torch.randn(64, 64, generator=g)  # fp32, as proj_l's weight is stored
    m = premultiplied_state(kv, weight)
    assert m.dtype == torch.bfloat16 and m.shape == kv.shape
    # The weight goes through kv's dtype first (the official bf16 autocast), then one rounding of the
    # exact product.
    truth = (kv.double() @ weight.to(torch.bfloat16).double().t()).to(torch.bfloat16)
    assert torch.equal(m, truth)
    assert not torch.equal(m, (kv.double() @ weight.double().t()).to(torch.bfloat16))


@pytest.mark.skipif(not ON_SM90, reason="the Gluon kernel runs on compute-capability 9.0 GPUs only")
def test_sagesla_on_sm90_matches_its_reference():
    seq, d = 777, 128
    q, k, v = qkv(3, 1, seq, 2, d, "cuda")
    proj = nn.Linear(d, d).cuda()
    sel = select_blocks(q, k, 64, 128, 0.3)
    kw = dict(topk=0.3, block_q=64, block_k=128, pv="fp8", v_range=2.25, selection=sel)
    with torch.no_grad():
        out = sagesla_attention(q, k, v, proj, impl="triton", **kw)
        truth = sagesla_attention(q, k, v, proj, impl="reference", **kw)
    assert_matches(out, truth, dtype=torch.bfloat16)
    assert math.isfinite(out.float().abs().max().item())
