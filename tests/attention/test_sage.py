"""Sage-style attention and SageSLA: quantisers exact against their references, kernels against the
reference of the same lossy algorithm (CPU: TRITON_INTERPRET=1), and the algorithm's error against fp32
attention on random inputs and on inputs with locality (shared/docs/attention.md §4-5)."""

from __future__ import annotations

import math
import os

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from turbodiffusion.attention import AttentionConfig, build_attention
from turbodiffusion.attention.sage import SageAttention, dense_tile_k, sage_attention
from turbodiffusion.attention.sage.kernel import sage_forward_triton
from turbodiffusion.attention.sage.quant import (
    key_permutation,
    quantize_int8_pooled_triton,
    quantize_int8_triton,
    quantize_v_fp8_triton,
)
from turbodiffusion.attention.sage.reference import (
    INT32_BIAS,
    LOG2_FP8_MAX,
    quantize_int8_reference,
    quantize_v_fp8_reference,
    sage_attention_reference,
    smoothing_mean,
    v_scale_reference,
)
from turbodiffusion.attention.sagesla import SageSLAAttention, sagesla_attention
from turbodiffusion.attention.sagesla.kernel import sagesla_forward_triton
from turbodiffusion.attention.sla.block_map import mean_pool_blocks, select_blocks, select_pooled_blocks
from turbodiffusion.attention.sla.reference import LINEAR_EPS
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import assert_matches, cosine, rel_l2
from turbodiffusion.testing.interpreter import fma_rounds_once
from turbodiffusion.testing.sm90_compile import build_report, cuobjdump


def qkv(seed, b, seq, h, d, dtype, device="cpu", k_mean=2.0):
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(b, seq, h, d, generator=g)
    k = torch.randn(b, seq, h, d, generator=g) + k_mean * torch.randn(d, generator=g)  # K's channel bias
    v = torch.randn(b, seq, h, d, generator=g)
    return [t.to(device, dtype) for t in (q, k, v)]


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize("d", [64, 128])
@pytest.mark.parametrize("seq", [1, 17, 200, 333])
def test_quantisers_match_their_references_exactly(seq, d, dtype, device):
    q, k, v = qkv(seq + d, 2, seq, 3, d, dtype, device)
    codes, scale = quantize_int8_triton(q, 64)
    ref_codes, ref_scale = quantize_int8_reference(q, 64)
    assert torch.equal(codes, ref_codes) and torch.equal(scale, ref_scale)
    mean = smoothing_mean(k)
    codes, scale = quantize_int8_triton(k, 32, mean)
    ref_codes, ref_scale = quantize_int8_reference(k, 32, mean)
    assert torch.equal(codes, ref_codes) and torch.equal(scale, ref_scale)
    assert codes.abs().max() <= 127
    padded, pscale = quantize_int8_triton(k, 32, mean, pad_rows=True)  # the kernel's K layout
    assert padded.shape[2] % 128 == 0 and not padded[:, :, seq:].any(), "padding must be zeros"
    assert torch.equal(padded[:, :, :seq], ref_codes) and torch.equal(pscale, ref_scale)
    v[:, :, 1, :3] = 0  # all-zero channels take scale 1
    vs = v_scale_reference(v, 2.25)
    vq, kernel_vs = quantize_v_fp8_triton(v, v.float().abs().amax(dim=1), 2.25)
    assert torch.equal(kernel_vs, vs)
    assert vq.shape[-1] % 128 == 0 and not vq[..., seq:].float().any(), "padding must be zeros"
    assert torch.equal(
        vq[..., :seq].transpose(-1, -2).view(torch.uint8), quantize_v_fp8_reference(v, vs).view(torch.uint8)
    )
    # The sm_90 kernel's layout: each 128-key tile's keys in key_permutation's order, padding included.
    permuted, permuted_vs = quantize_v_fp8_triton(v, v.float().abs().amax(dim=1), 2.25, permute_keys=True)
    sigma = key_permutation().to(device)
    tiles = vq.view(torch.uint8).unflatten(-1, (-1, 128))
    assert torch.equal(permuted_vs, vs)
    assert torch.equal(permuted.view(torch.uint8).unflatten(-1, (-1, 128))[..., sigma], tiles)


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16])
@pytest.mark.parametrize(("seq", "d", "block"), [(1, 64, 64), (200, 64, 32), (333, 128, 128)])
def test_pooled_quantiser_pools_as_the_block_selection(seq, d, block, dtype, device):
    """The quantiser's pooling (SageSLA's selection reads it instead of pooling q and k again) equals the
    selection's: block means of q, and of k minus its mean rounded to k's dtype, the last block partial."""
    q, k, _ = qkv(seq + block, 2, seq, 3, d, dtype, device)
    mean = smoothing_mean(k)
    for x, m, pad in ((q, None, False), (k, mean, True)):
        codes, scale, pooled = quantize_int8_pooled_triton(x, block, m, pad_rows=pad)
        want_codes, want_scale = quantize_int8_triton(x, block, m, pad_rows=pad)
        assert torch.equal(codes, want_codes) and torch.equal(scale, want_scale)
        xs = x if m is None else x - m.to(x.dtype)[:, None]
        want = mean_pool_blocks(xs.cpu(), block)
        assert pooled.dtype == x.dtype and pooled.shape == want.shape
        # fp32 sums in another order: at most one unit in the last place of x's dtype apart.
        ulp = torch.finfo(dtype).eps * want.float().abs().clamp_min(torch.finfo(dtype).tiny)
        assert ((pooled.cpu().float() - want.float()).abs() <= ulp).all()


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
@pytest.mark.parametrize(("d", "block", "smooth"), [(128, 64, 0), (128, 128, 1), (64, 128, 1)])
def test_pooled_quantiser_builds_for_sm90(d, block, smooth):
    """The interpreter runs no compiler: the pooling branch must also build for the GPU, without spills."""
    report = build_report("quantize_int8", d, block, smooth, 1)
    assert report["stack"] == 0 and not report["local_loads"], f"register spills: {report}"


@pytest.mark.skipif(not os.path.exists(cuobjdump()), reason="this Triton ships no cuobjdump")
def test_v_quantiser_builds_when_torch_compile_types_its_float_as_fp64():
    """Inductor hands a Python float to a user kernel as fp64; the V quantiser's v_range fed div_rn, which
    takes fp32 only, so a compiled forward failed to build there on an H100 (benchmarks/runs/gpu-2026-12-06)."""
    for v_range_type in ("fp32", "fp64"):
        report = build_report("quantize_v_fp8", v_range_type)
        assert report["stack"] == 0 and not report["local_loads"], f"register spills: {report}"
        assert report["fp64_ops"] == 0, report


def test_sagesla_kernel_selects_as_select_blocks_either_way(device):
    """Without a given selection the kernel path selects with select_blocks, or (``pooled_selection``) from
    the pooled q and k its quantisers wrote: the same blocks either way, hence the same output as with the
    selection passed in."""
    q, k, v = qkv(5, 1, 300, 2, 64, torch.bfloat16, device)
    proj = nn.Linear(64, 64).to(device)
    kw = dict(topk=0.3, block_q=64, block_k=32, pv="fp8", v_range=2.25)
    with torch.no_grad():
        _, _, q_pooled = quantize_int8_pooled_triton(q, 64)
        _, _, k_pooled = quantize_int8_pooled_triton(k, 32, smoothing_mean(k))
        pooled = select_pooled_blocks(q_pooled, k_pooled, 0.3)
        given = select_blocks(q, k, 64, 32, 0.3)
        assert torch.equal(pooled.lut, given.lut)
        want = sagesla_attention(q, k, v, proj, impl="triton", selection=given, **kw)
        assert torch.equal(sagesla_attention(q, k, v, proj, impl="triton", **kw), want)
        fused = sagesla_forward_triton(
            q, k, v, proj.weight, proj.bias, eps=LINEAR_EPS, pooled_selection=True, **kw
        )
        assert torch.equal(fused, want)
    with pytest.raises(ValueError, match="must agree on B, H and D"):
        select_pooled_blocks(q_pooled, k_pooled[..., :32], 0.3)


def test_key_permutation_puts_each_threads_p_values_where_its_mma_operand_wants_them():
    sigma = key_permutation(128)
    assert torch.equal(sigma.sort().values, torch.arange(128)), "a permutation"
    # Thread r of a quad holds accumulator columns 8j + 2r + e (j < 16, e < 2) of its rows; as the 8-bit A
    # operand of a 64 x N x 32 warpgroup MMA it holds columns 32c + 16h + 4r + e' (c < 4, h < 2, e' < 4).
    for r in range(4):
        held = {8 * j + 2 * r + e for j in range(16) for e in range(2)}
        wanted = {32 * c + 16 * h + 4 * r + e for c in range(4) for h in range(2) for e in range(4)}
        assert {sigma[k].item() for k in held} == wanted
    # Four consecutive operand columns (one register) come from two accumulator pairs, in order.
    assert sigma[[0, 1, 8, 9]].tolist() == [0, 1, 2, 3]


def test_int8_quantiser_rounds_half_away_from_zero(device):
    # Pick the block's max so that scale = max / 127 + 1e-7 is exactly 2^-4 in fp32; then 0.5, 2.5 and
    # -2.5 scales are exact ties, which round half away from zero to 1, 3, -3 (not to even: 0, 2, -2).
    amax = torch.tensor(127 * (2**-4 - 1e-7), dtype=torch.float32)
    while (amax / 127 + 1e-7).item() != 2**-4:
        amax = torch.nextafter(
            amax, torch.tensor(1.0) if (amax / 127 + 1e-7).item() < 2**-4 else torch.tensor(0.0)
        )
    x = torch.zeros(1, 64, 1, 64)
    x[0, 0, 0, :4] = torch.stack(
        [amax, torch.tensor(0.5 / 16), torch.tensor(2.5 / 16), torch.tensor(-2.5 / 16)]
    )
    codes, scale = quantize_int8_reference(x, 64)
    assert scale.item() == 2**-4
    assert codes[0, 0, 0, :4].tolist() == [127, 1, 3, -3]
    kcodes, _ = quantize_int8_triton(x.to(device), 64)
    assert torch.equal(kcodes.cpu(), codes)


@pytest.mark.parametrize("r", [1.6e-4, 3e-3, 0.05])
def test_biased_exponent_is_within_its_bound(r):
    # The kernels' P~ exponent, fma(INT32_BIAS + dot, r, -fma(r, INT32_BIAS, m - log2 448)) in fp32 (the
    # reference's float64 emulation of the two fmas), against the exact dot * r - (m - log2 448): within
    # 1.5 r (kernel.py's comment), whatever the dot, for scales from the tests' to a hundred times larger.
    g = torch.Generator().manual_seed(int(r * 1e6))
    r32 = torch.tensor(r, dtype=torch.float32)
    dot = torch.randint(-(2**21), 2**21, (100_000,), generator=g, dtype=torch.float64)
    m = (dot.max() * r32.double()).float()  # the row maximum as the kernels round it
    biased = (dot + INT32_BIAS).float()
    assert torch.equal(biased.double() - INT32_BIAS, dot)  # the bias is exact
    shift = (INT32_BIAS * r32.double() + (m - LOG2_FP8_MAX).double()).float()
    folded = (biased.double() * r32.double() - shift.double()).float().double()
    exact = dot * r32.double() - (m.double() - LOG2_FP8_MAX)
    assert (folded - exact).abs().max().item() <= 1.5 * r
    assert folded.max().item() <= LOG2_FP8_MAX + 1.5 * r  # P~ stays at e4m3's 448 or one rounding above


def sage_cases():
    # (seq, d, block_q, block_k, tile_k, pv, dtype)
    return [
        (17, 64, 128, 64, 64, "fp8", torch.bfloat16),
        (200, 64, 128, 64, 128, "fp8", torch.float16),
        (333, 128, 64, 32, 64, "fp8", torch.bfloat16),
        (150, 64, 128, 64, 64, "half", torch.bfloat16),
        (97, 128, 64, 64, 64, "half", torch.float16),
    ]


@pytest.mark.parametrize(("seq", "d", "block_q", "block_k", "tile_k", "pv", "dtype"), sage_cases())
def test_dense_kernel_matches_the_lossy_reference(seq, d, block_q, block_k, tile_k, pv, dtype, device):
    q, k, v = qkv(seq * 3 + d, 2, seq, 2, d, dtype, device)
    kw = dict(block_q=block_q, block_k=block_k, tile_k=tile_k, pv=pv, v_range=448.0)
    out = sage_forward_triton(q, k, v, **kw)
    # The reference runs on the CPU on every machine: run on a GPU, its float32 exp2 (CUDA's, within 2 ulp)
    # puts a P~ near an e4m3 rounding midpoint on the other side now and then, and one such code moves its
    # row by up to 1e-2 of the output's maximum (the kernel against the reference on the CPU: 1.8e-3 on an
    # H200; the reference on the GPU against itself on the CPU: 1.1e-2; benchmarks/runs/h200-2026-12-04).
    q, k, v = (t.cpu() for t in (q, k, v))
    truth = sage_attention_reference(q, k, v, out_dtype=torch.float32, **kw)
    assert out.dtype == dtype
    assert_matches(out, truth, dtype=dtype)
    same = sage_attention_reference(q, k, v, **kw)  # rounded to the output dtype like the kernel
    assert rel_l2(out, same) <= tolerances.SAGE_KERNEL_VS_EMULATION_REL_L2


@pytest.mark.parametrize(("seq", "block_q", "block_k", "pv"), [(200, 64, 32, "fp8"), (333, 128, 64, "half")])
def test_sagesla_kernel_matches_its_reference(seq, block_q, block_k, pv, device):
    q, k, v = qkv(seq, 1, seq, 2, 64, torch.bfloat16, device)
    g = torch.Generator().manual_seed(seq)
    proj = nn.Linear(64, 64).to(device)
    with torch.no_grad():
        proj.weight.copy_(torch.randn(64, 64, generator=g) / 8)
        proj.bias.copy_(torch.randn(64, generator=g))
    sel = select_blocks(q, k, block_q, block_k, 0.4)
    kw = dict(topk=0.4, block_q=block_q, block_k=block_k, pv=pv, v_range=2.25, selection=sel)
    with torch.no_grad():
        out = sagesla_attention(q, k, v, proj, impl="triton", **kw)
        truth = sagesla_attention(q, k, v, proj, impl="reference", **kw)
    assert_matches(out, truth, dtype=torch.bfloat16)


def ar1(g, shape, rho):
    """Tokens correlated with their neighbours: x_t = rho x_(t-1) + sqrt(1 - rho^2) e_t along L."""
    e = torch.randn(shape, generator=g)
    x = torch.empty_like(e)
    x[:, 0] = e[:, 0]
    for t in range(1, shape[1]):
        x[:, t] = rho * x[:, t - 1] + math.sqrt(1 - rho * rho) * e[:, t]
    return x


def error_inputs(kind, seed, seq=1024, h=2, d=128):
    g = torch.Generator().manual_seed(seed)
    shape = (1, seq, h, d)
    if kind == "random":
        q, k, v = (torch.randn(shape, generator=g) for _ in range(3))
    else:  # q and k share a slowly varying latent (local attention), K has a per-channel mean
        x = ar1(g, shape, 0.95)
        q = x + 0.5 * torch.randn(shape, generator=g)
        k = x + 0.5 * torch.randn(shape, generator=g) + 2 * torch.randn(1, 1, h, d, generator=g)
        v = ar1(g, shape, 0.9)
    return [t.bfloat16() for t in (q, k, v)]


@pytest.mark.parametrize(
    ("kind", "pv", "v_range", "bound"),
    [
        ("random", "half", 448.0, tolerances.SAGE_HALF_RANDOM_REL_L2),
        ("random", "fp8", 2.25, tolerances.SAGE_FP8_RANDOM_REL_L2),
        ("local", "half", 448.0, tolerances.SAGE_HALF_LOCAL_REL_L2),
        ("local", "fp8", 2.25, tolerances.SAGE_FP8_LOCAL_REL_L2),
        ("local", "fp8", 448.0, tolerances.SAGE_FP8_LOCAL_REL_L2),
    ],
)
def test_sage_algorithm_error_against_fp32_attention(kind, pv, v_range, bound):
    q, k, v = error_inputs(kind, seed=0)
    full = F.scaled_dot_product_attention(*(t.float().transpose(1, 2) for t in (q, k, v))).transpose(1, 2)
    out = sage_attention_reference(q, k, v, block_q=128, block_k=64, tile_k=128, pv=pv, v_range=v_range)
    err, cos = rel_l2(out, full), cosine(out, full)
    print(f"sage {kind} pv={pv} v_range={v_range}: rel L2 {err:.3e}, cosine {cos:.6f}")
    assert err <= bound
    assert cos >= 1 - bound  # rel L2 e gives cosine >= ~1 - e^2 / 2; this only catches gross failures


def test_module_dispatch_and_registry(device):
    q, k, v = qkv(11, 1, 70, 2, 64, torch.bfloat16, device)
    module = build_attention(AttentionConfig(backend="sage", block_q=64, block_k=64, impl="triton"), 64)
    assert isinstance(module, SageAttention) and not list(module.parameters())
    with torch.no_grad():
        out = module(q, k, v)
    tile = dense_tile_k(q.device, 64)  # 128 on a GPU, 64 under the interpreter
    kw = dict(block_q=64, block_k=64, tile_k=tile, pv="fp8", v_range=448.0)
    if device == "cpu" and not fma_rounds_once():
        # Triton 3.8's interpreter (torch 2.14.1 pins it) runs tl.fma as a multiply and an add: the kernel's
        # biased P~ exponent then rounds twice, and P~ codes near e4m3 midpoints flip (rel L2 1.2e-3 here).
        # Its arithmetic is not the kernel's, so only the algorithm's bound against the fp32 truth applies.
        assert_matches(out, sage_attention_reference(q, k, v, out_dtype=torch.float32, **kw), dtype=q.dtype)
    else:
        assert (
            rel_l2(out, sage_attention_reference(q, k, v, **kw)) <= tolerances.SAGE_KERNEL_VS_EMULATION_REL_L2
        )
    sagesla = build_attention(AttentionConfig(backend="sagesla", sla_topk=0.5), 64)
    assert isinstance(sagesla, SageSLAAttention)
    assert set(sagesla.state_dict()) == {"local_attn.proj_l.weight", "local_attn.proj_l.bias"}


def test_cpu_auto_runs_the_reference_and_warns_once(caplog):
    q, k, v = qkv(12, 1, 40, 1, 64, torch.bfloat16)
    module = SageAttention(64, block_q=64, block_k=64)
    with torch.no_grad(), caplog.at_level("WARNING"):
        out = module(q, k, v)
        module(q, k, v)
    assert torch.equal(out, sage_attention(q, k, v, block_q=64, block_k=64, impl="reference"))
    assert sum("reference" in r.message for r in caplog.records) == 1


def test_registry_checks_say_why_a_backend_cannot_run():
    with pytest.raises(ValueError, match='attention "sagesla" cannot run here: needs a CUDA GPU'):
        build_attention(AttentionConfig(backend="sagesla"), 128, device="cpu", dtype=torch.bfloat16)
    with pytest.raises(ValueError, match="Sage kernels take bf16 or fp16"):
        build_attention(AttentionConfig(backend="sage"), 128, device="cuda", dtype=torch.float32)
    with pytest.raises(ValueError, match=r"SLA needs head_dim in \(64, 128\)"):
        build_attention(AttentionConfig(backend="sla"), 96, device="cpu", dtype=torch.float32)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(dtype=torch.float32), "takes bf16 or fp16"),
        (dict(d=96), r"head dim D in \(64, 128\)"),
        (dict(pv="fp4"), 'pv must be "auto", "fp8" or "half"'),
        (dict(v_range=0.0), "v_range must be > 0"),
        (dict(block_q=48), "block_q must be 16, 32, 64 or 128"),
        (dict(impl="cuda"), 'impl must be "auto"'),
        (dict(grad=True), "has no backward"),
        (dict(k_len=48), "must match"),
    ],
)
def test_sage_attention_rejects_bad_inputs(kwargs, message):
    d = kwargs.get("d", 64)
    q = (
        torch.randn(1, 32, 2, d)
        .to(kwargs.get("dtype", torch.bfloat16))
        .requires_grad_(kwargs.get("grad", False))
    )
    k = torch.randn(1, kwargs.get("k_len", 32), 2, d).to(q.dtype)
    with pytest.raises(ValueError, match=message):
        sage_attention(q, k, k, block_q=kwargs.get("block_q", 64), pv=kwargs.get("pv", "auto"),
                       v_range=kwargs.get("v_range", 448.0), impl=kwargs.get("impl", "reference"))  # fmt: skip


def test_sagesla_rejects_bad_topk_and_the_sparse_launcher_checks_its_tile(device):
    q = torch.randn(1, 32, 2, 64, device=device).bfloat16()
    with pytest.raises(ValueError, match=r"topk must be in \(0, 1\]"):
        sagesla_attention(q, q, q, nn.Linear(64, 64), topk=0.0, impl="reference")
    with pytest.raises(ValueError, match=r"topk must be in \(0, 1\]"):
        SageSLAAttention(64, topk=2.0)
    lut = torch.zeros(1, 2, 1, 1, dtype=torch.int64, device=device)
    with pytest.raises(ValueError, match="tile_k must be 64"):
        sage_forward_triton(q, q, q, block_q=64, block_k=64, tile_k=128, lut=lut)
    with pytest.raises(ValueError, match="takes torch.float16, torch.bfloat16"):
        sage_forward_triton(q.float(), q.float(), q.float(), block_q=64, block_k=64)
    from turbodiffusion.attention.sla.kernel_fwd import summarize_kv

    state_only = summarize_kv(q, q)  # no K mean or V maxima: the quantisers cannot run on it
    with pytest.raises(ValueError, match="summary must come from summarize_kv"):
        sage_forward_triton(q, q, q, block_q=64, block_k=64, summary=state_only)
