"""The Hopper K/V summary kernel (``kv_summary_wgmma``, Gluon): which inputs it serves, that it compiles for
sm_90 without spills (on any machine: Triton ships ptxas), and on an sm_90 GPU that ``summarize_kv`` gives
the Triton kernel's summary with it (the CPU interpreter cannot run Gluon; the Triton kernel is tested
against torch in test_sla_kernel.py)."""

from __future__ import annotations

import os

import pytest
import torch

from turbodiffusion.attention.sla.kernel_fwd import summarize_kv, wgmma_summary_serves
from turbodiffusion.testing.sm90_compile import build_report, cuobjdump

ON_SM90 = torch.cuda.is_available() and torch.cuda.get_device_capability() == (9, 0)


def test_kernel_choice_is_checked(device):
    k = torch.randn(1, 70, 2, 64, device=device, dtype=torch.bfloat16)
    with pytest.raises(ValueError, match='kernel must be "auto", "triton" or "wgmma"'):
        summarize_kv(k, k, kernel="cuda")
    if not ON_SM90:
        assert not wgmma_summary_serves(k, k)
        with pytest.raises(ValueError, match="compute-capability 9.0 GPU"):
            summarize_kv(k, k, kernel="wgmma")


@pytest.mark.skipif(not ON_SM90, reason="needs a compute-capability 9.0 GPU")
def test_serves_only_16_bit_head_major_layouts():
    k = torch.randn(2, 300, 4, 128, device="cuda", dtype=torch.bfloat16)
    assert wgmma_summary_serves(k, k)
    assert not wgmma_summary_serves(k.float(), k.float()), "fp32 takes the Triton kernel"
    assert not wgmma_summary_serves(k[..., :96], k[..., :96]), "D must be 64 or 128"
    swapped = k.transpose(1, 2).contiguous().transpose(1, 2)  # [B, L, H, D] view of [B, H, L, D] memory
    assert not wgmma_summary_serves(swapped, swapped), "heads must be adjacent in memory"


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
@pytest.mark.parametrize(("d", "state", "stats"), [(128, True, True), (64, True, True), (128, False, True)])
def test_kernel_compiles_for_sm90_without_spills(d, state, stats):
    report = build_report("kv_summary", d, int(state), int(stats))
    assert report["stack"] == 0 and not report["local_loads"], f"register spills: {report}"
    assert report["shared"] <= 227 * 1024, f"more shared memory than a program can have: {report}"
    # Each tile's state MMA is waited for one tile later, so it runs under the next tile's feature map; a
    # zero-trip exit path once made ptxas wait for every MMA at once on Triton 3.8-3.9 ([0, 0, 0, 0]).
    assert report["mma_waits"] == ([1, 0] if state else []), f"the state MMA is not overlapped: {report}"


@pytest.mark.skipif(not ON_SM90, reason="the Gluon kernel runs on compute-capability 9.0 GPUs only")
@pytest.mark.parametrize(
    ("b", "seq", "h", "d", "dtype"),
    [(1, 1000, 2, 128, torch.bfloat16), (2, 4097, 3, 128, torch.bfloat16), (2, 333, 2, 64, torch.float16),
     (1, 65, 1, 128, torch.bfloat16)],
)  # fmt: skip
def test_wgmma_summary_equals_the_triton_kernels(b, seq, h, d, dtype):
    g = torch.Generator().manual_seed(seq)
    # k and v as the model has them: slices of one fused projection ([B, L, 3, H, D]), v not contiguous.
    qkv = (torch.randn(b, seq, 3, h, d, generator=g) + torch.randn(d, generator=g)).to("cuda", dtype)
    k, v = qkv[:, :, 1], qkv[:, :, 2]
    weight = (torch.randn(d, d, generator=g) / d**0.5).cuda()
    ours = summarize_kv(k, v, state=True, stats=True, weight=weight, kernel="wgmma")
    theirs = summarize_kv(k, v, state=True, stats=True, weight=weight, kernel="triton")
    assert torch.equal(ours.v_amax, theirs.v_amax), "maxima do not depend on the order"
    # The fp32 sums run over the tokens in another order (64-row tiles, per-thread column sums).
    torch.testing.assert_close(ours.k_mean, theirs.k_mean, rtol=1e-5, atol=1e-6)
    torch.testing.assert_close(ours.ksum, theirs.ksum, rtol=1e-5, atol=1e-7)
    for mine, ref in ((ours.kv, theirs.kv), (ours.m, theirs.m)):
        step = torch.finfo(dtype).eps * ref.float().abs().max().item()
        assert (mine.float() - ref.float()).abs().max().item() <= step, "within one step of the output dtype"
    stats = summarize_kv(k, v, state=False, stats=True, kernel="wgmma")
    assert torch.equal(stats.v_amax, theirs.v_amax) and torch.equal(stats.k_mean, ours.k_mean)
