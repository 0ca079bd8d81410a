"""The Wan DiT: golden fixtures, an independent float64 re-implementation at other sizes, RoPE and patchify
against explicit loops, precision in bf16, every validation branch, and building on the meta device."""

from __future__ import annotations

import dataclasses
import json
import math

import pytest
import torch
from safetensors import safe_open
from torch import nn

from turbodiffusion.attention import BACKENDS, AttentionConfig
from turbodiffusion.models.wan import (
    DIT_PRESETS,
    WanDiT,
    WanDiTConfig,
    dit_preset,
)
from turbodiffusion.models.wan.dit import patchify, timestep_embedding, unpatchify
from turbodiffusion.models.wan.rope import apply_rope, rope_angles, rope_split
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import cosine, max_rel, rel_l2

# ---------------------------------------------------------------------------------------------------------
# Golden fixtures: everything (config, inputs, timesteps, outputs) is read from each dit_* file.


def pytest_generate_tests(metafunc):
    if "dit_fixture" in metafunc.fixturenames:
        from .. import conftest

        folder = conftest.SHARED / "reference" / "golden"
        files = sorted(folder.glob("dit_*.safetensors")) if folder.is_dir() else []
        metafunc.parametrize("dit_fixture", files, ids=[f.stem for f in files])


def test_golden_dit_fixtures_exist(shared_dir):
    assert sorted((shared_dir / "reference" / "golden").glob("dit_*.safetensors")), "no dit_* golden fixtures"


def test_golden_dit_fixture_is_reproduced(dit_fixture):
    with safe_open(str(dit_fixture), framework="pt") as f:
        tensors = {k: f.get_tensor(k) for k in f.keys()}
        metadata = f.metadata()
    config = WanDiTConfig.from_official(json.loads(metadata["config"]))
    model = WanDiT(config).eval()
    weights = {k.removeprefix("weights."): v for k, v in tensors.items() if k.startswith("weights.")}
    model.load_state_dict(weights, strict=True)
    timesteps = json.loads(metadata["timesteps"])
    assert timesteps, "fixture lists no timesteps"
    for i, t in enumerate(timesteps):
        timestep = tensors[f"input.timestep_{i}"]
        assert timestep.flatten().tolist() == [t] * timestep.numel(), "metadata and input timestep disagree"
        with torch.no_grad():
            out = model(tensors["input.x"], timestep, tensors["input.crossattn_emb"], tensors.get("input.y"))
        ref = tensors[f"output.{i}"]
        assert out.shape == ref.shape and out.dtype == torch.float32
        err = rel_l2(out, ref)
        assert err <= tolerances.GOLDEN_REL_L2, f"{dit_fixture.name} output.{i}: rel L2 {err:.3e}"


# ---------------------------------------------------------------------------------------------------------
# An independent, deliberately plain re-implementation of models.md §1 (float64 by default), working on a
# state dict. Patchify, unpatchify and RoPE are written per token, RoPE as a complex rotation.


def _linear(w, name, x):
    return x @ w[f"{name}.weight"].T + w[f"{name}.bias"]


def _silu(x):
    return x * torch.sigmoid(x)


def _gelu_tanh(x):
    return 0.5 * x * (1 + torch.tanh(math.sqrt(2 / math.pi) * (x + 0.044715 * x**3)))


def _layer_norm(x, eps, weight=None, bias=None):
    mean = x.mean(-1, keepdim=True)
    var = ((x - mean) ** 2).mean(-1, keepdim=True)
    y = (x - mean) / torch.sqrt(var + eps)
    return y if weight is None else y * weight + bias


def _rms_norm(x, weight, eps):
    return x / torch.sqrt((x**2).mean(-1, keepdim=True) + eps) * weight


def _attention(q, k, v):
    """q [B, Lq, H, D], k/v [B, Lk, H, D]: explicit softmax(q k^T / sqrt(D)) v."""
    scores = torch.einsum("bqhd,bkhd->bhqk", q, k) / math.sqrt(q.shape[-1])
    return torch.einsum("bhqk,bkhd->bqhd", scores.softmax(-1), v)


def naive_patchify(x):
    """[B, C, F, h, w] -> [B, L, 4C], token by token; vector order (c, i, j), j fastest."""
    B, C, Fr, h, w = x.shape
    tokens = []
    for t in range(Fr):
        for a in range(h // 2):
            for b in range(w // 2):
                cell = x[:, :, t, 2 * a : 2 * a + 2, 2 * b : 2 * b + 2]  # [B, C, 2, 2]
                tokens.append(
                    torch.stack([cell[:, c, i, j] for c in range(C) for i in range(2) for j in range(2)], 1)
                )
    return torch.stack(tokens, 1)


def naive_unpatchify(tokens, grid, channels):
    """[B, L, 4C] (order (i, j, c), c fastest) -> [B, C, F, 2h', 2w'], token by token."""
    B = tokens.shape[0]
    gf, gh, gw = grid
    out = torch.empty(B, channels, gf, 2 * gh, 2 * gw, dtype=tokens.dtype)
    n = 0
    for t in range(gf):
        for a in range(gh):
            for b in range(gw):
                for i in range(2):
                    for j in range(2):
                        for c in range(channels):
                            out[:, c, t, 2 * a + i, 2 * b + j] = tokens[:, n, (i * 2 + j) * channels + c]
                n += 1
    return out


def naive_rope(x, grid, theta=10000.0):
    """x [B, L, H, D] -> rotated, as complex numbers per channel pair, angles built pair by pair."""
    B, L, H, D = x.shape
    d_hw = 2 * (D // 6)
    d_t = D - 2 * d_hw
    axis_of_pair, index_in_axis, width = [], [], []
    for p in range(D // 2):
        if p < d_t // 2:
            axis_of_pair.append(0), index_in_axis.append(p), width.append(d_t)
        elif p < d_t // 2 + d_hw // 2:
            axis_of_pair.append(1), index_in_axis.append(p - d_t // 2), width.append(d_hw)
        else:
            axis_of_pair.append(2), index_in_axis.append(p - d_t // 2 - d_hw // 2), width.append(d_hw)
    angles = torch.empty(L, D // 2, dtype=torch.float64)
    n = 0
    for t in range(grid[0]):
        for a in range(grid[1]):
            for b in range(grid[2]):
                pos = (t, a, b)
                for p in range(D // 2):
                    freq = theta ** (-2 * index_in_axis[p] / width[p])
                    angles[n, p] = pos[axis_of_pair[p]] * freq
                n += 1
    z = torch.view_as_complex(x.double().reshape(B, L, H, D // 2, 2).contiguous())
    rotated = z * torch.polar(torch.ones_like(angles), angles)[None, :, None, :]
    return torch.view_as_real(rotated).reshape(B, L, H, D).to(x.dtype)


def reference_dit(sd, config: WanDiTConfig, x, timestep, context, y=None, dtype=torch.float64):
    """models.md §1 step by step, every tensor in ``dtype`` (float64: the truth; bf16: naive eager)."""
    w = {k: v.to(dtype) for k, v in sd.items()}
    D, H = config.dim, config.num_heads
    d = D // H
    x = x.to(dtype)
    if y is not None:
        x = torch.cat([x, y.to(dtype)], 1)
    B, _, Fr, h, wd = x.shape
    grid = (Fr, h // 2, wd // 2)
    tokens = _linear(w, "patch_embedding", naive_patchify(x))

    e, e0 = reference_time(w, config, timestep, dtype)

    ctx = context.to(dtype)
    pad = torch.zeros(B, config.text_len - ctx.shape[1], ctx.shape[2], dtype=dtype)
    ctx = torch.cat([ctx, pad], 1)
    ctx = _linear(w, "text_embedding.2", _gelu_tanh(_linear(w, "text_embedding.0", ctx)))

    eps = config.eps
    for i in range(config.num_layers):
        p = f"blocks.{i}"
        m = w[f"{p}.modulation"] + e0
        m = [m[:, j : j + 1] for j in range(6)]
        hsa = _layer_norm(tokens, eps) * (1 + m[1]) + m[0]
        q = _rms_norm(_linear(w, f"{p}.self_attn.q", hsa), w[f"{p}.self_attn.norm_q.weight"], eps)
        k = _rms_norm(_linear(w, f"{p}.self_attn.k", hsa), w[f"{p}.self_attn.norm_k.weight"], eps)
        v = _linear(w, f"{p}.self_attn.v", hsa)
        q, k, v = (t.reshape(B, -1, H, d) for t in (q, k, v))
        att = _attention(naive_rope(q, grid), naive_rope(k, grid), v).reshape(B, -1, D)
        tokens = tokens + _linear(w, f"{p}.self_attn.o", att) * m[2]

        z = _layer_norm(tokens, eps, w[f"{p}.norm3.weight"], w[f"{p}.norm3.bias"])
        q = _rms_norm(_linear(w, f"{p}.cross_attn.q", z), w[f"{p}.cross_attn.norm_q.weight"], eps)
        k = _rms_norm(_linear(w, f"{p}.cross_attn.k", ctx), w[f"{p}.cross_attn.norm_k.weight"], eps)
        v = _linear(w, f"{p}.cross_attn.v", ctx)
        att = _attention(q.reshape(B, -1, H, d), k.reshape(B, -1, H, d), v.reshape(B, -1, H, d))
        tokens = tokens + _linear(w, f"{p}.cross_attn.o", att.reshape(B, -1, D))

        hffn = _layer_norm(tokens, eps) * (1 + m[4]) + m[3]
        tokens = tokens + _linear(w, f"{p}.ffn.2", _gelu_tanh(_linear(w, f"{p}.ffn.0", hffn))) * m[5]

    return reference_head(w, config, tokens, e, grid)


def reference_time(w, config: WanDiTConfig, timestep, dtype=torch.float64):
    """Time embedding e [B, dim] and projection e0 [B, 6, dim]; the sinusoid is float64, then ``dtype``."""
    B, half = timestep.shape[0], config.freq_dim // 2
    t64 = timestep.reshape(B).double()
    omega = torch.tensor([10000.0 ** (-k / half) for k in range(half)], dtype=torch.float64)
    emb = torch.cat([torch.cos(t64[:, None] * omega), torch.sin(t64[:, None] * omega)], 1).to(dtype)
    e = _linear(w, "time_embedding.2", _silu(_linear(w, "time_embedding.0", emb)))
    e0 = _linear(w, "time_projection.1", _silu(e)).reshape(B, 6, config.dim)
    return e, e0


def reference_head(w, config: WanDiTConfig, tokens, e, grid, norm_dtype=None):
    """Modulated LayerNorm, Linear, unpatchify: tokens [B, L, dim], e [B, dim] -> [B, out_dim, F, h, w].

    norm_dtype: the dtype the LayerNorm output is rounded to (the residual stream's, in the reference).
    """
    s = w["head.modulation"] + e[:, None, :]
    normed = _layer_norm(tokens, config.eps)
    if norm_dtype is not None:
        normed = normed.to(norm_dtype).to(tokens.dtype)
    out = _linear(w, "head.head", normed * (1 + s[:, 1:2]) + s[:, 0:1])
    return naive_unpatchify(out, grid, config.out_dim)


def fill_random_(model: nn.Module, seed: int) -> nn.Module:
    """Realistic random weights from a seeded generator: fan-in scaled matrices, norm scales near 1."""
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name.endswith(("norm_q.weight", "norm_k.weight", "norm3.weight")):
                p.copy_(1 + 0.1 * torch.randn(p.shape, generator=g))
            elif p.dim() == 2:
                p.copy_(torch.randn(p.shape, generator=g) / p.shape[1] ** 0.5)
            else:  # biases and modulations
                p.copy_(0.1 * torch.randn(p.shape, generator=g))
    return model.eval()


@dataclasses.dataclass(frozen=True)
class Case:
    config: WanDiTConfig
    frames: int
    height: int  # latent
    width: int
    context_rows: int
    seed: int


CASES = {
    # head_dim 32 (RoPE split 12/10/10), ragged 3x3x5 grid, context shorter than text_len (zero-padded)
    "t2v-hd32": Case(
        WanDiTConfig(dim=96, ffn_dim=160, num_heads=3, num_layers=2, text_dim=24, text_len=7, freq_dim=64),
        frames=3, height=6, width=10, context_rows=5, seed=11,
    ),
    # head_dim 96 (split 32/32/32), i2v with 4 conditioning channels, one latent row of tokens
    "i2v-hd96": Case(
        WanDiTConfig(
            dim=192, ffn_dim=128, num_heads=2, num_layers=1, in_dim=20, text_dim=12, text_len=6, model_type="i2v"
        ),
        frames=5, height=2, width=8, context_rows=6, seed=12,
    ),
}  # fmt: skip


def case_inputs(case: Case, batch: int = 2):
    cfg = case.config
    g = torch.Generator().manual_seed(case.seed + 1000)
    x = torch.randn(batch, cfg.out_dim, case.frames, case.height, case.width, generator=g)
    y = None
    if cfg.model_type == "i2v":
        y = torch.randn(batch, cfg.cond_dim, case.frames, case.height, case.width, generator=g)
    ctx = torch.randn(batch, case.context_rows, cfg.text_dim, generator=g)
    t = torch.tensor([[937.5], [12.25]])[:batch]  # a different timestep per sample
    return x, t, ctx, y


@pytest.mark.parametrize("name", sorted(CASES))
def test_matches_independent_float64_reference(name):
    case = CASES[name]
    model = fill_random_(WanDiT(case.config), case.seed)
    x, t, ctx, y = case_inputs(case)
    inputs_before = [a.clone() for a in (x, t, ctx) + ((y,) if y is not None else ())]
    with torch.no_grad():
        out = model(x, t, ctx, y)
    truth = reference_dit(model.state_dict(), case.config, x, t, ctx, y)
    assert out.shape == x.shape and out.dtype == torch.float32
    err = rel_l2(out, truth)
    assert err <= tolerances.INDEPENDENT_IMPL_REL_L2, (
        f"{name}: rel L2 {err:.3e} against the float64 reference"
    )
    # The two samples of the batch are independent: each equals its own batch-1 run.
    with torch.no_grad():
        single = model(x[1:], t[1:], ctx[1:], None if y is None else y[1:])
    assert rel_l2(single, out[1:]) <= tolerances.INDEPENDENT_IMPL_REL_L2
    for before, after in zip(inputs_before, (x, t, ctx) + ((y,) if y is not None else ())):
        assert torch.equal(before, after), "forward modified an input"


def test_timestep_shapes_b_and_b1_agree():
    case = CASES["t2v-hd32"]
    model = fill_random_(WanDiT(case.config), case.seed)
    x, t, ctx, _ = case_inputs(case)
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), model(x, t.reshape(2), ctx))


def test_short_context_equals_explicit_zero_padding():
    case = CASES["t2v-hd32"]
    model = fill_random_(WanDiT(case.config), case.seed)
    x, t, ctx, _ = case_inputs(case)
    padded = torch.cat([ctx, torch.zeros(2, case.config.text_len - ctx.shape[1], ctx.shape[2])], 1)
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), model(x, t, padded))


# ---------------------------------------------------------------------------------------------------------
# Precision: a bf16 model keeps float32 islands (time embedding, modulation, norms, RoPE, head).


def test_bf16_model_beats_naive_bf16_and_returns_float32():
    case = CASES["t2v-hd32"]
    model = fill_random_(WanDiT(case.config), case.seed).to(torch.bfloat16)
    x, t, ctx, _ = case_inputs(case)
    x, ctx, t = x.bfloat16(), ctx.bfloat16(), t.bfloat16()  # what the sampler feeds the model
    with torch.no_grad():
        out = model(x, t, ctx)
    sd = model.state_dict()
    truth = reference_dit(sd, case.config, x, t, ctx)  # float64 on the same bf16 weights and inputs
    eager = reference_dit(sd, case.config, x, t, ctx, dtype=torch.bfloat16)  # every op in bf16
    assert out.dtype == torch.float32 and torch.isfinite(out).all()
    assert model.blocks[0].modulation.dtype == torch.bfloat16
    err, eager_err = max_rel(out, truth), max_rel(eager, truth)
    assert err <= tolerances.lowp_bound(torch.bfloat16, eager_err), (
        f"bf16 model {err:.3e}, naive {eager_err:.3e}"
    )


def test_bf16_model_keeps_float32_islands():
    """Time MLP, RoPE tables and the head run in float32 on bf16 weights; the residual stream stays bf16.

    Each island is checked against float64 on its own captured inputs, at the fp32 bound: running any of
    them in bf16 would miss it by orders of magnitude.
    """
    case = CASES["i2v-hd96"]
    cfg = case.config
    model = fill_random_(WanDiT(cfg), case.seed).to(torch.bfloat16)
    x, t, ctx, y = case_inputs(case)
    seen = {}
    model.blocks[0].register_forward_pre_hook(lambda m, args: seen.setdefault("block", args))
    model.head.register_forward_pre_hook(lambda m, args: seen.setdefault("head", args))
    with torch.no_grad():
        out = model(x.bfloat16(), t, ctx.bfloat16(), y.bfloat16())
    w64 = {k: v.double() for k, v in model.state_dict().items()}
    tokens, e0, _, cos, sin = seen["block"]
    assert tokens.dtype == torch.bfloat16 and seen["head"][0].dtype == torch.bfloat16
    e, e0_truth = reference_time(w64, cfg, t)
    assert e0.dtype == torch.float32 and max_rel(e0, e0_truth) <= tolerances.KERNEL_FP32_REL_MAX
    angles = rope_angles((case.frames, case.height // 2, case.width // 2), cfg.head_dim)
    assert cos.dtype == sin.dtype == torch.float32
    assert max_rel(cos, angles.cos()) <= tolerances.KERNEL_FP32_REL_MAX
    assert max_rel(sin, angles.sin()) <= tolerances.KERNEL_FP32_REL_MAX
    head_tokens, head_e = seen["head"]
    assert head_e.dtype == torch.float32 and max_rel(head_e, e) <= tolerances.KERNEL_FP32_REL_MAX
    grid = (case.frames, case.height // 2, case.width // 2)
    # The head's LayerNorm output is rounded to the stream dtype, as the reference's WanLayerNorm does.
    head_truth = reference_head(w64, cfg, head_tokens.double(), head_e.double(), grid, torch.bfloat16)
    assert out.dtype == torch.float32 and max_rel(out, head_truth) <= tolerances.KERNEL_FP32_REL_MAX


def test_fp32_inputs_are_cast_to_the_weights_dtype():
    case = CASES["t2v-hd32"]
    model = fill_random_(WanDiT(case.config), case.seed).to(torch.bfloat16)
    x, t, ctx, _ = case_inputs(case)
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), model(x.bfloat16(), t, ctx.bfloat16()))


# ---------------------------------------------------------------------------------------------------------
# Parts that could hide layout bugs, against explicit loops.


@pytest.mark.parametrize("shape", [(1, 3, 1, 2, 2), (2, 5, 3, 6, 10), (2, 16, 2, 4, 6)])
def test_patchify_and_unpatchify_match_loops(shape):
    g = torch.Generator().manual_seed(sum(shape))
    x = torch.randn(*shape, generator=g)
    tokens = patchify(x, (1, 2, 2))
    assert torch.equal(tokens, naive_patchify(x))
    B, C, Fr, h, w = shape
    grid = (Fr, h // 2, w // 2)
    head_out = torch.randn(B, math.prod(grid), 4 * C, generator=g)
    assert torch.equal(unpatchify(head_out, grid, (1, 2, 2), C), naive_unpatchify(head_out, grid, C))
    # Round trip once the channel-major token order is rewritten channel-minor.
    channel_minor = tokens.unflatten(-1, (C, 4)).transpose(-1, -2).flatten(-2)
    assert torch.equal(unpatchify(channel_minor, grid, (1, 2, 2), C), x)


def test_general_patch_size_round_trips():
    g = torch.Generator().manual_seed(3)
    x = torch.randn(2, 3, 4, 6, 3, generator=g)
    patch = (2, 3, 1)
    tokens = patchify(x, patch)
    assert tokens.shape == (2, 2 * 2 * 3, 3 * 6)
    channel_minor = tokens.unflatten(-1, (3, 6)).transpose(-1, -2).flatten(-2)
    assert torch.equal(unpatchify(channel_minor, (2, 2, 3), patch, 3), x)


@pytest.mark.parametrize("head_dim", [8, 32, 64, 96, 128])
@pytest.mark.parametrize("grid", [(1, 1, 1), (3, 5, 7), (2, 17, 3)])
def test_rope_matches_complex_rotation(head_dim, grid):
    g = torch.Generator().manual_seed(head_dim * 100 + sum(grid))
    L = math.prod(grid)
    x = torch.randn(2, L, 3, head_dim, generator=g)
    angles = rope_angles(grid, head_dim)
    assert angles.shape == (L, head_dim // 2) and angles.dtype == torch.float64
    out = apply_rope(x, angles.cos(), angles.sin())
    truth = naive_rope(x.double(), grid)
    assert out.dtype == x.dtype
    assert max_rel(out, truth) <= tolerances.KERNEL_FP32_REL_MAX


def test_rope_split_and_fixture_dims():
    assert rope_split(128) == (44, 42, 42)
    assert rope_split(64) == (24, 20, 20)
    for d in range(6, 260, 2):
        parts = rope_split(d)
        assert sum(parts) == d and all(p % 2 == 0 and p > 0 for p in parts)


def test_rope_keeps_dtype_and_leaves_input_alone():
    g = torch.Generator().manual_seed(7)
    x = torch.randn(1, 12, 2, 32, generator=g).bfloat16()
    before = x.clone()
    angles = rope_angles((1, 3, 4), 32)
    out = apply_rope(x, angles.cos(), angles.sin())
    assert out.dtype == torch.bfloat16 and torch.equal(x, before)
    truth = naive_rope(x.double(), (1, 3, 4))
    # bf16 rotation error is one rounding of the output: well inside the bf16 kernel floor.
    assert max_rel(out, truth) <= tolerances.KERNEL_LOWP_FLOOR[torch.bfloat16]


def test_timestep_embedding_is_cos_first_in_float64():
    t = torch.tensor([0.0, 250.0, 999.0], dtype=torch.bfloat16)
    emb = timestep_embedding(t, 8)
    assert emb.dtype == torch.float64 and emb.shape == (3, 8)
    assert torch.equal(emb[0], torch.tensor([1.0] * 4 + [0.0] * 4, dtype=torch.float64))
    omega = torch.tensor([10000.0 ** (-k / 4) for k in range(4)], dtype=torch.float64)
    # 999 has no bf16 representation: the embedding is that of the rounded value the model received.
    assert t[2].item() == 1000.0
    expected = torch.cat([torch.cos(1000.0 * omega), torch.sin(1000.0 * omega)])
    assert torch.allclose(emb[2], expected, rtol=0, atol=1e-12)


class RecordingAttention(nn.Module):
    """Wraps an attention module and records the shapes it is called with."""

    def __init__(self, inner: nn.Module) -> None:
        super().__init__()
        self.inner, self.shapes = inner, []

    def forward(self, q, k, v, **kwargs):
        self.shapes.append((tuple(q.shape), tuple(k.shape), tuple(v.shape)))
        return self.inner(q, k, v, **kwargs)


def test_attention_ops_see_b_l_h_d():
    case = CASES["t2v-hd32"]
    model = fill_random_(WanDiT(case.config), case.seed)
    x, t, ctx, _ = case_inputs(case)
    with torch.no_grad():
        expected = model(x, t, ctx)
    block = model.blocks[1]
    block.self_attn.attn_op = RecordingAttention(block.self_attn.attn_op)
    block.cross_attn.attn_op = RecordingAttention(block.cross_attn.attn_op)
    with torch.no_grad():
        assert torch.equal(model(x, t, ctx), expected)
    L, H, D = 3 * 3 * 5, 3, 32
    assert block.self_attn.attn_op.shapes == [((2, L, H, D),) * 3]
    assert block.cross_attn.attn_op.shapes == [((2, L, H, D), (2, 7, H, D), (2, 7, H, D))]


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16], ids=["fp32", "bf16"])
@pytest.mark.parametrize("backend", ["sdpa", "sla", "sage", "sagesla"])
def test_dit_runs_with_each_registered_backend(backend, dtype):
    if backend not in BACKENDS:
        pytest.skip(f"{backend} backend not registered")
    cfg = WanDiTConfig(dim=128, ffn_dim=96, num_heads=2, num_layers=1, text_dim=16, text_len=4)
    if backend.startswith("sage") and dtype == torch.float32:
        pytest.skip("the Sage backends take only 16-bit inputs")
    # On the CPU the Sage backends are GPU-only for users (their check says so); the model still runs
    # them through their plain-PyTorch reference of the same lossy algorithm.
    impl = "reference" if backend.startswith("sage") else "auto"
    attention = AttentionConfig(backend=backend, sla_topk=0.5, impl=impl)
    model = fill_random_(WanDiT(cfg, attention), seed=21).to(dtype)
    g = torch.Generator().manual_seed(22)
    x = torch.randn(1, 16, 2, 6, 10, generator=g)
    ctx = torch.randn(1, 4, 16, generator=g)
    with torch.no_grad():
        out = model(x, torch.tensor([500.0]), ctx)
    assert out.shape == x.shape and torch.isfinite(out).all()
    if backend != "sdpa":
        dense = fill_random_(WanDiT(cfg), seed=21).to(dtype)
        shared = {k: v for k, v in model.state_dict().items() if ".local_attn.proj_l." not in k}
        dense.load_state_dict(shared, strict=True)
        with torch.no_grad():
            ref = dense(x, torch.tensor([500.0]), ctx)
        # Same weights; a sparse or low-bit attention changes the output, but not beyond recognition.
        assert cosine(out, ref) > 0.9


def test_sla_model_trains_under_bf16_autocast():
    """Autocast makes v bf16 while RMSNorm'd q, k stay fp32 (fp32 norm weights); SLA takes one dtype, so the
    self-attention must hand it one, and the result must match the same model run in fp32 closely."""
    cfg = WanDiTConfig(dim=128, ffn_dim=96, num_heads=2, num_layers=1, text_dim=16, text_len=4)
    model = fill_random_(WanDiT(cfg, AttentionConfig(backend="sla", sla_topk=0.5)), seed=23)
    g = torch.Generator().manual_seed(24)
    x = torch.randn(1, 16, 2, 6, 10, generator=g)
    ctx = torch.randn(1, 4, 16, generator=g)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        out = model(x, torch.tensor([500.0]), ctx)
    out.float().square().mean().backward()
    assert all(p.grad is not None for p in model.parameters() if p.requires_grad)
    with torch.no_grad():
        ref = model(x, torch.tensor([500.0]), ctx)
    assert cosine(out.float().detach(), ref) > 0.99


# ---------------------------------------------------------------------------------------------------------
# Building on the meta device.


@pytest.mark.parametrize("preset", sorted(DIT_PRESETS))
def test_meta_build_allocates_nothing(preset):
    with torch.device("meta"):
        model = WanDiT(dit_preset(preset))
    tensors = [*model.parameters(), *model.buffers()]
    assert tensors and all(t.is_meta for t in tensors)
    assert model.config is DIT_PRESETS[preset]


# ---------------------------------------------------------------------------------------------------------
# Bad inputs: every forward check, raised before any compute.


BASE = {"dim": 64, "ffn_dim": 96, "num_heads": 2, "num_layers": 1}


@pytest.fixture(scope="module")
def small_models():
    t2v = fill_random_(WanDiT(WanDiTConfig(**BASE, text_dim=8, text_len=3)), seed=31)
    i2v_cfg = WanDiTConfig(**BASE, in_dim=20, model_type="i2v", text_dim=8, text_len=3)
    return t2v, fill_random_(WanDiT(i2v_cfg), seed=32)


def _good(batch=1):
    g = torch.Generator().manual_seed(41)
    x = torch.randn(batch, 16, 2, 4, 6, generator=g)
    return x, torch.full((batch,), 500.0), torch.randn(batch, 3, 8, generator=g)


@pytest.mark.parametrize(
    "change, message",
    [
        (lambda x, t, c: (x[0], t, c), r"x must be a latent video \[B, C, F, h, w\] \(got shape \(16, 2, 4, 6\)\)"),
        (lambda x, t, c: (x[:, :15], t, c), r"x must have 16 latent channels \(got 15\)$"),
        (lambda x, t, c: (x[..., :5], t, c), r"multiples of the patch \(1, 2, 2\) \(got F=2, h=4, w=5\)"),
        (lambda x, t, c: (x[..., :3, :], t, c), r"multiples of the patch .*h=3, w=6"),
        (lambda x, t, c: (x.long(), t, c), r"x must be a floating tensor \(got torch.int64\)"),
        (lambda x, t, c: (x, t.reshape(1, 1, 1), c), r"timestep must be \[B\] or \[B, 1\] with B=1 \(got shape \(1, 1, 1\)\)"),
        (lambda x, t, c: (x, torch.tensor(500.0), c), r"timestep must be \[B\] or \[B, 1\] with B=1 \(got shape \(\)\)"),
        (lambda x, t, c: (x, t > 0, c), r"timestep must be real .*torch.bool"),
        (lambda x, t, c: (x, t, c[0]), r"context must be \[B, Lt, text_dim\] = \[1, Lt, 8\] \(got \(3, 8\)\)"),
        (lambda x, t, c: (x, t, c[..., :7]), r"context must be \[B, Lt, text_dim\] .*got \(1, 3, 7\)"),
        (lambda x, t, c: (x, t, torch.cat([c, c], 1)), r"context has 6 rows but the model takes at most text_len=3"),
    ],
)  # fmt: skip
def test_bad_inputs_are_rejected(small_models, change, message):
    t2v, _ = small_models
    with pytest.raises(ValueError, match=message):
        t2v(*change(*_good()))


def test_batch_mismatches_are_rejected(small_models):
    t2v, _ = small_models
    x, t, c = _good(batch=2)
    with pytest.raises(ValueError, match=r"timestep must be \[B\] or \[B, 1\] with B=2 \(got shape \(1,\)\)"):
        t2v(x, t[:1], c)
    with pytest.raises(ValueError, match=r"context must be .*\[2, Lt, 8\] \(got \(1, 3, 8\)\)"):
        t2v(x, t, c[:1])


def test_i2v_and_t2v_conditioning_rules(small_models):
    t2v, i2v = small_models
    x, t, c = _good()
    y = torch.randn(1, 4, 2, 4, 6, generator=torch.Generator().manual_seed(42))
    with pytest.raises(ValueError, match=r"an i2v model needs y \[B, 4, F, h, w\] .*got y=None"):
        i2v(x, t, c)
    with pytest.raises(
        ValueError, match=r"y must have shape \[1, 4, 2, 4, 6\] to match x \(got \(1, 4, 2, 4, 4\)\)"
    ):
        i2v(x, t, c, y[..., :4])
    with pytest.raises(
        ValueError, match=r"x must have 16 latent channels \(got 20\); pass the 4 conditioning"
    ):
        i2v(torch.cat([x, y], 1), t, c)
    with pytest.raises(ValueError, match=r"a t2v model takes no y \(got shape \(1, 4, 2, 4, 6\)\)"):
        t2v(x, t, c, y)
    with torch.no_grad():
        assert i2v(x, t, c, y).shape == x.shape


def test_rope_validation():
    with pytest.raises(ValueError, match=r"grid must be three positive ints"):
        rope_angles((2, 0, 3), 64)
    with pytest.raises(ValueError, match=r"grid must be three positive ints"):
        rope_angles((2, 3), 64)
    with pytest.raises(ValueError, match=r"head_dim must be a positive even int.*got 63"):
        rope_angles((1, 2, 3), 63)
    angles = rope_angles((1, 2, 3), 64)
    with pytest.raises(ValueError, match=r"x must be \[B, L, H, D\]"):
        apply_rope(torch.zeros(6, 2, 64), angles.cos(), angles.sin())
    with pytest.raises(ValueError, match=r"head dim D must be even.*got D=63"):
        apply_rope(torch.zeros(1, 6, 2, 63), angles.cos(), angles.sin())
    with pytest.raises(ValueError, match=r"sin must be \[L, D/2\] = \[6, 32\] .*got \(5, 32\)"):
        apply_rope(torch.zeros(1, 6, 2, 64), angles.cos(), angles.sin()[:5])
