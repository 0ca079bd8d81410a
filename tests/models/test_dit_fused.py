"""WanDiT's opt-in fused-ops path (``enable_fused_ops``) against the plain path, by the error-ratio rule."""

from __future__ import annotations

import copy

import pytest
import torch

from turbodiffusion.models.wan import WanDiT, WanDiTConfig
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.testing.compare import assert_matches, rel_l2

# Tiny but not power-of-two widths: dim 96 (3 heads of 32), ffn 160.
TINY = WanDiTConfig(dim=96, ffn_dim=160, num_heads=3, num_layers=2, text_dim=48, text_len=24)


def _model(seed: int, dtype: torch.dtype) -> WanDiT:
    with torch.device("meta"):
        model = WanDiT(TINY)
    state = random_state_dict(model, torch.Generator().manual_seed(seed))
    # Non-zero modulation, so the fused scale/shift/gate paths are exercised with real values.
    state = {k: (v + 0.3 if k.endswith("modulation") else v).to(dtype) for k, v in state.items()}
    model.load_state_dict(state, strict=True, assign=True)
    return model.eval()


def _inputs(seed: int, batch: int, frames: int, h: int, w: int, text_rows: int):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, 16, frames, h, w, generator=g)
    t = torch.rand(batch, generator=g) * 1000
    context = torch.randn(batch, text_rows, TINY.text_dim, generator=g)
    return x, t, context


@pytest.mark.parametrize(("batch", "frames", "h", "w", "text_rows"), [(1, 1, 2, 2, 5), (2, 3, 6, 10, 17)])
def test_fused_bf16_is_as_accurate_as_plain_bf16(batch, frames, h, w, text_rows):
    seed = 7000 + batch * 100 + frames * 10 + h
    x, t, context = _inputs(seed, batch, frames, h, w, text_rows)
    # bf16-representable weights in both models, so the fp32 model is the same network.
    truth_model = _model(seed, torch.bfloat16).float()
    model = _model(seed, torch.bfloat16)
    with torch.no_grad():
        truth = truth_model(x, t, context)
        plain = model(x, t, context)
        model.enable_fused_ops()
        fused = model(x, t, context)
    assert not torch.equal(fused, plain), "enable_fused_ops changed nothing: the fused path did not run"
    assert_matches(fused, truth, eager=plain, dtype=torch.bfloat16)


def test_fused_fp32_matches_plain_fp32():
    x, t, context = _inputs(7100, 2, 2, 4, 6, 9)
    model = _model(7100, torch.float32)
    with torch.no_grad():
        plain = model(x, t, context)
        model.enable_fused_ops()
        fused = model(x, t, context)
    assert_matches(fused, plain, dtype=torch.float32)


def test_disabling_restores_the_plain_path_exactly():
    x, t, context = _inputs(7200, 1, 2, 4, 4, 3)
    model = _model(7200, torch.bfloat16)
    with torch.no_grad():
        plain = model(x, t, context)
        model.enable_fused_ops()
        model.enable_fused_ops(False)
        again = model(x, t, context)
    assert torch.equal(plain, again)


@pytest.mark.parametrize("dtype", [torch.float32, torch.bfloat16, torch.float16])
def test_fused_head_is_the_plain_head(dtype, monkeypatch):
    """enable_fused_ops routes the head through ops.head_norm_modulate, which keeps the plain head's rounding
    of LN(x) to the stream's dtype before the fp32 modulation: on the CPU (its reference; the kernel meets
    that in tests/ops/test_norm_modulate.py) the fused head is the plain head bit for bit."""
    from turbodiffusion.models.wan import dit as dit_module

    calls = []
    real = dit_module.head_norm_modulate
    monkeypatch.setattr(dit_module, "head_norm_modulate", lambda *a, **k: calls.append(1) or real(*a, **k))
    model = _model(7350, dtype)
    g = torch.Generator().manual_seed(7351)
    x = (3 * torch.randn(2, 37, TINY.dim, generator=g) + 0.7).to(dtype)  # [B, L, dim] stream, ragged L
    e = torch.randn(2, TINY.dim, generator=g)  # fp32 time embedding, different for each sample
    with torch.no_grad():
        plain = model.head(x, e)
        model.enable_fused_ops()
        fused = model.head(x, e)
    assert len(calls) == 1, "the fused head did not run"
    assert fused.dtype == torch.float32
    assert torch.equal(fused, plain)


def test_fused_ops_leave_the_state_dict_unchanged():
    model = _model(7300, torch.bfloat16)
    before = set(model.state_dict())
    model.enable_fused_ops()
    assert set(model.state_dict()) == before


def test_enable_fused_ops_rejects_non_bool():
    model = _model(7400, torch.float32)
    with pytest.raises(ValueError, match="enabled must be a bool"):
        model.enable_fused_ops(1)


def test_enable_fused_ops_rejects_float64_models():
    model = _model(7500, torch.float64)
    with pytest.raises(ValueError, match="fused ops run float32, bfloat16 or float16 models"):
        model.enable_fused_ops()
    model.enable_fused_ops(False)  # turning it off is always allowed


def test_fused_self_attention_runs_the_fused_norm_rope(monkeypatch):
    """With fused ops on, every self-attention takes q and k through ops.rms_norm_rope (once each)."""
    from turbodiffusion.models.wan import dit as dit_module

    calls = []
    real = dit_module.rms_norm_rope

    def counting(*args, **kwargs):
        calls.append(args[0].shape)
        return real(*args, **kwargs)

    monkeypatch.setattr(dit_module, "rms_norm_rope", counting)
    x, t, context = _inputs(7500, 1, 2, 4, 4, 3)
    model = _model(7500, torch.bfloat16)
    with torch.no_grad():
        model(x, t, context)
        assert calls == []
        model.enable_fused_ops()
        model(x, t, context)
    assert len(calls) == 2 * TINY.num_layers


@pytest.mark.parametrize("w8a8", [False, True])
def test_fused_ffn_is_the_block_ffn_on_cpu(w8a8, monkeypatch):
    """On the CPU the fused FFN (ops.linear_gelu's reference; W8A8 layers keep their own path) is exactly
    the eager chain, and with fused ops on every plain-Linear block goes through linear_gelu."""
    from turbodiffusion.models.wan import dit as dit_module
    from turbodiffusion.quant import Int8Config, quantize_

    cfg = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=16, text_len=4)
    with torch.device("meta"):
        model = WanDiT(cfg)
    model.load_state_dict(random_state_dict(model, torch.Generator().manual_seed(7600)), assign=True)
    model = model.to(torch.bfloat16).eval()
    if w8a8:
        quantize_(model, Int8Config())
    h = torch.randn(2, 37, 128, generator=torch.Generator().manual_seed(7601)).bfloat16()
    with torch.no_grad():
        assert torch.equal(model.blocks[0]._fused_ffn(h), model.blocks[0].ffn(h))
    calls = []
    real = dit_module.linear_gelu
    monkeypatch.setattr(dit_module, "linear_gelu", lambda *a, **k: calls.append(1) or real(*a, **k))
    model.enable_fused_ops()
    with torch.no_grad():
        model(torch.randn(1, 16, 2, 4, 4), torch.tensor([300.0]), torch.randn(1, 4, 16))
    assert len(calls) == (0 if w8a8 else cfg.num_layers)


def test_fp8_row_model_fuses_its_activation_quantisers(monkeypatch):
    """With Fp8RowLinear layers the fused path quantises q/k/v, cross-q and FFN inputs in the norm kernels
    (norm_modulate_fp8 for q/k/v, residual_norm_modulate with quantize=True after each attention's residual)
    and the GELU in the down-projection's quantiser; in fp32 that is the plain path's maths up to fp32
    rounding, and in bf16 it is no further from the float model than plain."""
    from turbodiffusion.models.wan import dit as dit_module
    from turbodiffusion.quant import Fp8RowConfig, quantize_

    cfg = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=2, text_dim=16, text_len=4)
    with torch.device("meta"):
        model = WanDiT(cfg)
    state = random_state_dict(model, torch.Generator().manual_seed(7700))
    model.load_state_dict(
        {k: (v + 0.3 if k.endswith("modulation") else v) for k, v in state.items()}, assign=True
    )
    model = model.eval()
    x, t, context = torch.randn(1, 16, 2, 4, 4), torch.tensor([300.0]), torch.randn(1, 4, 16)
    quant = quantize_(copy.deepcopy(model), Fp8RowConfig())
    calls = []
    real, real_residual = dit_module.norm_modulate_fp8, dit_module.residual_norm_modulate
    monkeypatch.setattr(dit_module, "norm_modulate_fp8", lambda *a, **k: calls.append(1) or real(*a, **k))
    monkeypatch.setattr(
        dit_module,
        "residual_norm_modulate",
        lambda *a, **k: calls.append(int(k["quantize"])) or real_residual(*a, **k),
    )
    with torch.no_grad():
        truth = model(x, t, context)
        plain = quant(x, t, context)
        quant.enable_fused_ops()
        fused = quant(x, t, context)
        assert sum(calls) == len(calls) == 3 * cfg.num_layers
        assert rel_l2(fused, plain) < 1e-5
        assert rel_l2(plain, truth) < 0.05, "FP8 error out of the expected range"
        bf16 = quant.to(torch.bfloat16)
        fused_bf16 = bf16(x, t, context)
        bf16.enable_fused_ops(False)
        plain_bf16 = bf16(x, t, context)
    assert rel_l2(fused_bf16, truth) <= 1.1 * rel_l2(plain_bf16, truth)


def test_fused_blocks_hand_the_ffn_update_to_the_next_norm(monkeypatch):
    """With fused ops on, each block's FFN residual is applied inside the next block's norm1 kernel
    (residual_norm_modulate) and only the last block's by ops.gated_residual, before the head. A deferred
    update, resolved, is exactly the block's own output, and a plain block accepts one too."""
    from turbodiffusion.models.wan import dit as dit_module

    x, t, context = _inputs(7800, 1, 2, 4, 4, 3)
    model = _model(7800, torch.bfloat16)
    model.enable_fused_ops()
    captured = []
    hook = model.blocks[1].register_forward_pre_hook(lambda _module, args: captured.append(args))
    residual_calls, gated_calls = [], []
    real_residual, real_gated = dit_module.residual_norm_modulate, dit_module.gated_residual
    monkeypatch.setattr(
        dit_module,
        "residual_norm_modulate",
        lambda *a, **k: residual_calls.append(1) or real_residual(*a, **k),
    )
    monkeypatch.setattr(
        dit_module, "gated_residual", lambda *a, **k: gated_calls.append(1) or real_gated(*a, **k)
    )
    with torch.no_grad():
        model(x, t, context)
    hook.remove()
    assert len(gated_calls) == 1
    assert len(residual_calls) == 3 * TINY.num_layers - 1
    pending, e0, ctx, cos, sin = captured[0]
    assert isinstance(pending, dit_module.PendingResidual)
    block = model.blocks[1]
    with torch.no_grad():
        deferred = block(pending, e0, ctx, cos, sin, defer_ffn=True)
        applied = block(pending, e0, ctx, cos, sin)
        assert isinstance(deferred, dit_module.PendingResidual)
        assert torch.equal(deferred.resolve(), applied)
        model.enable_fused_ops(False)
        plain_from_pending = block(pending, e0, ctx, cos, sin)
        plain = block(pending.resolve(), e0, ctx, cos, sin)
    assert torch.equal(plain_from_pending, plain)


def test_fp8_row_model_quantises_the_context_once(monkeypatch):
    """With Fp8RowLinear cross-attention k and v, the embedded context is quantised once a forward and every
    block reads those codes: the output is bit for bit the one where each layer quantises it itself."""
    from turbodiffusion.models.wan import dit as dit_module
    from turbodiffusion.quant import Fp8RowConfig, quantize_

    cfg = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=3, text_dim=16, text_len=4)
    with torch.device("meta"):
        model = WanDiT(cfg)
    model.load_state_dict(random_state_dict(model, torch.Generator().manual_seed(7900)), assign=True)
    model = quantize_(model.eval(), Fp8RowConfig())
    x, t, context = torch.randn(1, 16, 2, 4, 4), torch.tensor([300.0]), torch.randn(1, 3, 16)
    seen = []
    for block in model.blocks:
        block.cross_attn.k.register_forward_pre_hook(lambda _m, args: seen.append(type(args[0])))
    calls = []
    real = dit_module.quantize_rows
    monkeypatch.setattr(
        dit_module, "quantize_rows", lambda *a, **k: calls.append(a[0].shape) or real(*a, **k)
    )
    with torch.no_grad():
        shared = model(x, t, context)
        assert calls == [(cfg.text_len, cfg.dim)]
        assert seen == [dit_module.RowQuantized] * cfg.num_layers
        monkeypatch.setattr(WanDiT, "_shared_context", lambda _self, ctx: ctx)
        per_layer = model(x, t, context)
    assert torch.equal(shared, per_layer)
