"""benchmarks/roofline.py: its FLOP counts against torch's FLOP counter on a real tiny WanDiT, its SLA and
byte terms against hand counts, and the floor against hand-made ceilings."""

from __future__ import annotations

import dataclasses
import math

import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from turbodiffusion.models.wan import TextContextCache, WanDiT, WanDiTConfig
from turbodiffusion.models.wan.text_padding import padding_biases

from ._load import load_benchmark

roofline = load_benchmark("roofline")

# Odd widths, so a swapped dim / ffn / text width in the formula cannot cancel out.
T2V = WanDiTConfig(dim=96, ffn_dim=160, num_heads=3, num_layers=2, text_dim=48, text_len=24, freq_dim=32)
I2V = WanDiTConfig(
    dim=96, ffn_dim=160, num_heads=3, num_layers=3, text_dim=40, text_len=20, freq_dim=16, in_dim=36,
    model_type="i2v",
)  # fmt: skip


def _cpu_sdpa_flops(q, k, v, *args, out_shape=None, **kwargs) -> int:
    """Q.K^T and P.V of the CPU flash kernel (torch's counter has no entry for it): 2 B H Lq Lk (D + Dv)."""
    b, h, lq, d = q
    return 2 * b * h * lq * k[-2] * d + 2 * b * h * lq * k[-2] * v[-1]


def _counted(cfg: WanDiTConfig, grid: tuple[int, int, int], text_rows: int, text_cached: bool = False) -> int:
    """torch's FLOP count of one forward; text_cached: a second forward with a filled TextContextCache."""
    with torch.device("meta"):
        model = WanDiT(cfg)
    model = model.to_empty(device="cpu").eval()
    for p in model.parameters():
        torch.nn.init.normal_(p, std=0.02)
    f, h, w = grid
    x = torch.randn(1, cfg.out_dim, f, 2 * h, 2 * w)
    y = torch.randn(1, cfg.cond_dim, f, 2 * h, 2 * w) if cfg.model_type == "i2v" else None
    context = torch.randn(1, text_rows, cfg.text_dim)
    if text_cached:
        context = TextContextCache(context)
        with torch.no_grad():
            model(x, torch.tensor([700.0]), context, y)
    sdpa = torch.ops.aten._scaled_dot_product_flash_attention_for_cpu
    with torch.no_grad(), FlopCounterMode(display=False, custom_mapping={sdpa: _cpu_sdpa_flops}) as counter:
        model(x, torch.tensor([500.0]), context, y)
    return counter.get_total_flops()


def _cost(cfg: WanDiTConfig, tokens: int, **kw):
    return roofline.dit_forward_cost(
        dim=cfg.dim, ffn_dim=cfg.ffn_dim, num_heads=cfg.num_heads, num_layers=cfg.num_layers, tokens=tokens,
        text_len=cfg.text_len, text_dim=cfg.text_dim, patch_in=cfg.in_dim * 4, patch_out=cfg.out_dim * 4,
        freq_dim=cfg.freq_dim, **kw,
    )  # fmt: skip


@pytest.mark.parametrize("text_cached", [False, True])
@pytest.mark.parametrize(("cfg", "grid", "text_rows"), [(T2V, (2, 3, 5), 7), (I2V, (3, 2, 3), 20)])
def test_dense_forward_flops_match_torchs_counter(cfg, grid, text_rows, text_cached):
    """T2V's 7 of 24 rows get the padding's weighted stand-ins (16 keys, counted as the roofline's text
    rows); I2V's 20 are a full context."""
    tokens = math.prod(grid)
    keys = text_rows + len(padding_biases(text_rows, cfg.text_len, torch.float32))
    assert keys == {24: 16, 20: 20}[cfg.text_len]
    cost = _cost(dataclasses.replace(cfg, text_len=keys), tokens, text_cached=text_cached)
    assert cost.gemm_flops + cost.attention_flops == _counted(cfg, grid, text_rows, text_cached)
    assert cost.attention_flops == cost.attention_dense_flops


def test_a_cached_text_drops_its_projections_bytes():
    kw = dict(dim=96, ffn_dim=160, num_heads=3, num_layers=4, tokens=50, text_len=8, text_dim=40,
              patch_in=64, patch_out=64)  # fmt: skip
    full, cached = roofline.dit_forward_cost(**kw), roofline.dit_forward_cost(text_cached=True, **kw)
    # Per block: the k and v weights (bf16) and their Lt x dim inputs and outputs; once: the text MLP's weights.
    per_block = 2 * 96 * 96 * 2 + 2 * 4 * 8 * 96
    assert full.bytes - cached.bytes == 4 * per_block + 2 * (40 * 96 + 96 * 96)


def test_sparse_attention_flops_by_hand():
    # L = 300 tokens, dim 128 (2 heads of D = 64), one layer, 10 text rows, blocks 128 x 64.
    # Key blocks ceil(300 / 64) = 5, kept int(0.5 * 5) = 2 -> 128 keys per query; query blocks 3.
    kw = dict(dim=128, ffn_dim=256, num_heads=2, num_layers=1, tokens=300, text_len=10, text_dim=32,
              patch_in=64, patch_out=64, block_q=128, block_k=64)  # fmt: skip
    sparse = roofline.dit_forward_cost(attention="sla", topk=0.5, **kw)
    dense = roofline.dit_forward_cost(attention="sdpa", **kw)
    cross = 4 * 300 * 10 * 128
    extras = 4 * 300 * 128 * 64 + 2 * 300 * 128 * 64 + 2 * (3 * 5) * 128  # linear branch, proj_l, block map
    assert sparse.attention_flops == 4 * 300 * 128 * 128 + extras + cross
    assert sparse.attention_dense_flops == dense.attention_flops == 4 * 300 * 300 * 128 + cross
    assert sparse.gemm_flops == dense.gemm_flops
    # topk 1 keeps every block: 5 x 64 = 320 keys, clipped to the 300 that exist.
    full = roofline.dit_forward_cost(attention="sla", topk=1.0, **kw)
    assert full.attention_flops == 4 * 300 * 300 * 128 + extras + cross
    # A topk under one block still keeps one block (attention/sla/block_map.py).
    tiny = roofline.dit_forward_cost(attention="sagesla", topk=0.01, **kw)
    assert tiny.attention_flops == 4 * 300 * 64 * 128 + extras + cross


def test_int8_saves_one_byte_per_block_weight():
    kw = dict(dim=96, ffn_dim=160, num_heads=3, num_layers=4, tokens=50, text_len=8, text_dim=40,
              patch_in=64, patch_out=64)  # fmt: skip
    bf16 = roofline.dit_forward_cost(**kw)
    int8 = roofline.dit_forward_cost(gemm="int8", **kw)
    assert bf16.bytes - int8.bytes == 4 * (8 * 96 * 96 + 2 * 96 * 160)
    assert roofline.dit_forward_cost(gemm="fp8", **kw).bytes == int8.bytes
    assert roofline.dit_forward_cost(gemm="fp8-fast", **kw).bytes == int8.bytes
    with pytest.raises(ValueError, match="gemm must be one of"):
        roofline.dit_forward_cost(gemm="int4", **kw)


def test_fp8_gemms_run_at_the_fp8_ceiling():
    cost = roofline.ForwardCost(gemm_flops=8e12, attention_flops=0.0, attention_dense_flops=0.0, bytes=0.0,
                                attention="sla", gemm="fp8")  # fmt: skip
    ceilings = {"bf16_tflops": 4.0, "int8_tops": 8.0, "fp8_tflops": 16.0, "copy_gbps": 1.0}
    assert roofline.floor_seconds(cost, ceilings) == pytest.approx(0.5)
    with pytest.raises(ValueError, match="fp8_tflops"):
        roofline.floor_seconds(cost, {"bf16_tflops": 1.0, "int8_tops": 1.0, "copy_gbps": 1.0})


def test_fast_accumulation_gemms_run_at_their_own_ceiling():
    cost = roofline.ForwardCost(gemm_flops=8e12, attention_flops=0.0, attention_dense_flops=0.0, bytes=0.0,
                                attention="sla", gemm="fp8-fast")  # fmt: skip
    ceilings = {
        "bf16_tflops": 4.0,
        "int8_tops": 8.0,
        "fp8_tflops": 16.0,
        "fp8_fast_tflops": 20.0,
        "copy_gbps": 1.0,
    }
    assert roofline.floor_seconds(cost, ceilings) == pytest.approx(0.4)
    del ceilings["fp8_fast_tflops"]
    with pytest.raises(ValueError, match="fp8_fast_tflops"):
        roofline.floor_seconds(cost, ceilings)


def test_floor_takes_the_larger_of_compute_and_memory():
    cost = roofline.ForwardCost(gemm_flops=6e12, attention_flops=2e12, attention_dense_flops=4e12, bytes=3e9,
                                attention="sla", gemm="bf16")  # fmt: skip
    ceilings = {"bf16_tflops": 4.0, "int8_tops": 8.0, "fp8_tflops": 16.0, "copy_gbps": 1.0}
    assert roofline.floor_seconds(cost, ceilings) == pytest.approx(3.0)  # memory: 3e9 B at 1 GB/s
    ceilings["copy_gbps"] = 1000.0
    assert roofline.floor_seconds(cost, ceilings) == pytest.approx(2.0)  # compute: 8e12 at 4e12 FLOP/s
    sage = roofline.ForwardCost(gemm_flops=8e12, attention_flops=16e12, attention_dense_flops=16e12, bytes=0.0,
                                attention="sagesla", gemm="int8")  # fmt: skip
    # GEMMs at int8 (1 s), Q.K^T half at int8 (1 s), P.V half at fp8 (0.5 s).
    assert roofline.floor_seconds(sage, ceilings) == pytest.approx(2.5)


def test_floor_needs_every_ceiling_it_uses():
    cost = roofline.ForwardCost(1e12, 1e12, 1e12, 1e9, attention="sagesla", gemm="bf16")
    with pytest.raises(ValueError, match="fp8_tflops"):
        roofline.floor_seconds(cost, {"bf16_tflops": 1.0, "int8_tops": 1.0, "copy_gbps": 1.0})


@pytest.mark.parametrize(
    ("change", "match"),
    [({"attention": "flash"}, "attention must be one of"), ({"topk": 0.0}, "topk must be in"),
     ({"tokens": 0}, "tokens=0")],
)  # fmt: skip
def test_bad_arguments_raise(change, match):
    kw = dict(dim=96, ffn_dim=160, num_heads=3, num_layers=1, tokens=10, text_len=8, text_dim=40,
              patch_in=64, patch_out=64)  # fmt: skip
    with pytest.raises(ValueError, match=match):
        roofline.dit_forward_cost(**{**kw, **change})
