"""The text padding attended to as a few weighted keys (models.wan.text_padding): the biases are exact in
the attention's dtype and sum to the padding's row count, attention over them equals attention over the
padded rows, and the DiT on a short context equals the DiT on that context padded to text_len."""

from __future__ import annotations

import math

import pytest
import torch

from turbodiffusion.attention.sdpa import sdpa_attention
from turbodiffusion.models.wan import WanDiT, WanDiTConfig
from turbodiffusion.models.wan.text_padding import (
    KEY_ALIGNMENT,
    key_bias,
    padding_biases,
    weighted_rows,
)
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import max_rel, rel_l2

from .test_dit import fill_random_, reference_dit

DTYPES = [torch.bfloat16, torch.float16, torch.float32, torch.float64]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("count", [1, 2, 7, 17, 100, 488, 511, 4095])
def test_weighted_rows_are_exact_in_dtype_and_sum_to_the_count(dtype, count):
    biases = weighted_rows(count, dtype)
    assert 1 <= len(biases) <= 4
    for b in biases:
        assert torch.tensor(b, dtype=torch.float64).to(dtype).item() == b, f"{b} is not exact in {dtype}"
    total = math.fsum(math.exp(b) for b in biases)
    # Below 2^-24 of the count, or (past the last row) that row's own rounding in dtype, far below what
    # the attention's probabilities are rounded to.
    assert abs(total - count) <= count * 2.0**-24, (biases, total)


def test_padding_biases_run_no_tensor_op():
    """The forward computes them every call: plain Python, so CUDA graphs and torch.compile see constants."""
    from torch.utils._python_dispatch import TorchDispatchMode

    class Record(TorchDispatchMode):
        def __init__(self):
            super().__init__()
            self.ops = []

        def __torch_dispatch__(self, func, types, args=(), kwargs=None):
            self.ops.append(func)
            return func(*args, **(kwargs or {}))

    with Record() as record:
        for dtype in DTYPES:
            assert padding_biases(24, 512, dtype)
    assert record.ops == []


def test_weighted_rows_rejects_an_empty_count():
    with pytest.raises(ValueError, match="at least 1"):
        weighted_rows(0, torch.bfloat16)


@pytest.mark.parametrize("rows", [1, 3, 24, 100, 131])
def test_padding_biases_weight_the_padding_in_aligned_keys(rows):
    text_len = 512
    biases = padding_biases(rows, text_len, torch.bfloat16)
    assert (rows + len(biases)) % KEY_ALIGNMENT == 0
    assert rows + len(biases) < text_len
    total = math.fsum(math.exp(b) for b in biases)  # exp(-inf) = 0: the alignment rows weigh nothing
    assert abs(total - (text_len - rows)) <= (text_len - rows) * 2.0**-24


@pytest.mark.parametrize(("rows", "text_len"), [(5, 7), (500, 512), (496, 512), (511, 512)])
def test_padding_biases_keep_plain_padding_where_weighting_saves_no_key(rows, text_len):
    assert padding_biases(rows, text_len, torch.bfloat16) == [0.0] * (text_len - rows)
    assert key_bias(rows, [0.0] * (text_len - rows), torch.bfloat16, torch.device("cpu")) is None


def test_padding_biases_of_a_full_context_and_bad_row_counts():
    assert padding_biases(16, 16, torch.float32) == []
    with pytest.raises(ValueError, match="0 to text_len=16"):
        padding_biases(17, 16, torch.float32)


def test_key_bias_places_the_biases_after_the_context_rows():
    biases = padding_biases(24, 512, torch.bfloat16)
    bias = key_bias(24, biases, torch.bfloat16, torch.device("cpu"))
    assert bias.shape == (24 + len(biases),) and bias.dtype == torch.bfloat16
    assert torch.equal(bias[:24], torch.zeros(24, dtype=torch.bfloat16))
    assert bias[24:].tolist() == biases


def _padded_and_weighted(dtype, rows=9, text_len=300, seed=0):
    """q [2, 37, 3, 32] against a context of ``rows`` keys plus its padding: (q, k, v padded to text_len
    with the padding key repeated, k and v of the rows plus the weighted stand-ins, their bias)."""
    g = torch.Generator().manual_seed(seed)
    q = torch.randn(2, 37, 3, 32, generator=g, dtype=torch.float64)
    kv = torch.randn(2, 2, rows + 1, 3, 32, generator=g, dtype=torch.float64)  # the last row: padding's
    biases = padding_biases(rows, text_len, dtype)
    repeat = [1] * rows + [text_len - rows]
    index = torch.repeat_interleave(torch.arange(rows + 1), torch.tensor(repeat))
    padded = kv[:, :, index]
    stand_in = kv[:, :, [*range(rows), *[rows] * len(biases)]]
    bias = key_bias(rows, biases, dtype, torch.device("cpu"))
    return q.to(dtype), padded.to(dtype), stand_in.to(dtype), bias


def test_attention_over_weighted_keys_equals_attention_over_the_padding_float64():
    q, padded, stand_in, bias = _padded_and_weighted(torch.float64)
    full = sdpa_attention(q, *padded)
    short = sdpa_attention(q, *stand_in, bias)
    assert rel_l2(short, full) <= tolerances.FLOAT64_REFORMULATION_REL_L2


@pytest.mark.parametrize("dtype", [torch.bfloat16, torch.float16], ids=str)
def test_attention_over_weighted_keys_in_low_precision(dtype):
    """Against the float64 attention over the padding: no worse than the same dtype over the padding."""
    q, padded, stand_in, bias = _padded_and_weighted(dtype, seed=1)
    truth = sdpa_attention(q.double(), *(t.double() for t in padded))
    eager_err = max_rel(sdpa_attention(q, *padded), truth)
    assert max_rel(sdpa_attention(q, *stand_in, bias), truth) <= tolerances.lowp_bound(dtype, eager_err)


def test_sdpa_key_bias_is_checked():
    q, _, stand_in, bias = _padded_and_weighted(torch.float32)
    with pytest.raises(ValueError, match="key_bias must be"):
        sdpa_attention(q, *stand_in, bias[:-1])
    with pytest.raises(ValueError, match="key_bias must be"):
        sdpa_attention(q, *stand_in, bias.double())


# A text_len long enough that the padding of a 5-row context is weighted (16 keys instead of 64).
CONFIG = WanDiTConfig(dim=64, ffn_dim=96, num_heads=2, num_layers=2, text_dim=24, text_len=64, freq_dim=32)


def _dit_inputs(rows=5, seed=3):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(2, 16, 2, 4, 6, generator=g)
    ctx = torch.randn(2, rows, CONFIG.text_dim, generator=g)
    padded = torch.cat([ctx, torch.zeros(2, CONFIG.text_len - rows, CONFIG.text_dim)], 1)
    return x, torch.tensor([[937.5], [12.25]]), ctx, padded


def test_dit_on_a_short_context_attends_to_fewer_keys():
    model = fill_random_(WanDiT(CONFIG), 5)
    seen = []
    model.blocks[0].cross_attn.k.register_forward_hook(lambda _m, _a, out: seen.append(out.shape[1]))
    x, t, ctx, padded = _dit_inputs()
    with torch.no_grad():
        model(x, t, ctx)
        model(x, t, padded)
    assert seen == [KEY_ALIGNMENT, CONFIG.text_len]


def test_dit_on_a_short_context_equals_the_padded_context_float64():
    model = fill_random_(WanDiT(CONFIG), 5).double()
    x, t, ctx, padded = _dit_inputs()
    with torch.no_grad():
        short, full = model(x.double(), t, ctx.double()), model(x.double(), t, padded.double())
    assert short.dtype == torch.float64
    assert rel_l2(short, full) <= tolerances.FLOAT64_REFORMULATION_REL_L2


@pytest.mark.parametrize("rows", [0, 1, 63])
def test_dit_on_any_context_length_equals_the_padded_context_float64(rows):
    """No rows at all (only padding), one, and one short of text_len (plain padding: one zero row)."""
    model = fill_random_(WanDiT(CONFIG), 5).double()
    x, t, ctx, padded = (a.double() for a in _dit_inputs(rows=rows))
    with torch.no_grad():
        assert rel_l2(model(x, t, ctx), model(x, t, padded)) <= tolerances.FLOAT64_REFORMULATION_REL_L2


def test_dit_on_a_short_context_in_bf16_is_no_worse_than_on_the_padded_one():
    """Both against models.md §1 in float64 on the same bf16 weights and inputs (the reference pads)."""
    model = fill_random_(WanDiT(CONFIG), 5).to(torch.bfloat16)
    x, t, ctx, padded = _dit_inputs(seed=4)
    x, t, ctx, padded = x.bfloat16(), t.bfloat16(), ctx.bfloat16(), padded.bfloat16()
    truth = reference_dit(model.state_dict(), CONFIG, x, t, ctx)
    with torch.no_grad():
        padded_err = max_rel(model(x, t, padded), truth)
        short_err = max_rel(model(x, t, ctx), truth)
    assert short_err <= tolerances.lowp_bound(torch.bfloat16, padded_err)


@pytest.mark.gpu
@pytest.mark.parametrize(("tokens", "heads"), [(32760, 12), (3000, 40)], ids=["1.3B-480p", "14B-heads"])
def test_biased_cross_attention_runs_on_a_fused_sdpa_kernel(tokens, heads):
    """On CUDA the bias must not push SDPA onto its math path (it would materialise [B, H, L, keys]
    logits): with math excluded, the call must still run, and agree with the padded keys' attention."""
    from torch.nn.attention import SDPBackend, sdpa_kernel

    g = torch.Generator("cuda").manual_seed(0)
    q = torch.randn(1, tokens, heads, 128, generator=g, device="cuda").bfloat16()
    kv = torch.randn(2, 1, 25, heads, 128, generator=g, device="cuda").bfloat16()  # 24 rows + padding's
    biases = padding_biases(24, 512, torch.bfloat16)
    bias = key_bias(24, biases, torch.bfloat16, torch.device("cuda"))
    stand_in = kv[:, :, [*range(24), *[24] * len(biases)]]
    padded = kv[:, :, [*range(24), *[24] * (512 - 24)]]
    with sdpa_kernel([SDPBackend.EFFICIENT_ATTENTION, SDPBackend.CUDNN_ATTENTION]):
        short = sdpa_attention(q, *stand_in, bias)
    truth = sdpa_attention(q.double(), *(t.double() for t in padded))
    eager_err = max_rel(sdpa_attention(q, *padded), truth)
    assert max_rel(short, truth) <= tolerances.lowp_bound(torch.bfloat16, eager_err)
