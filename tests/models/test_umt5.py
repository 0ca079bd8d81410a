"""umT5 encoder against an independent implementation: transformers' UMT5EncoderModel on the same weights.

There is no golden fixture for umT5, so a tiny random transformers model is built, its weights are renamed
to the official Wan names (the table below) and both run in float32 on the same ids and mask.
"""

from __future__ import annotations

import dataclasses
import re

import pytest
import torch
import transformers

from turbodiffusion.models.umt5 import UMT5_XXL, UMT5Config, UMT5Encoder, relative_position_bucket
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import assert_matches, rel_l2

# Ragged widths on purpose: dim 40, 4 heads of 12 (dim_attn 48 != dim), FFN 72.
TINY = UMT5Config(vocab_size=97, dim=40, dim_attn=48, dim_ffn=72, num_heads=4, num_layers=2, text_len=64)
# Few buckets and a short max_distance, so short sequences reach the logarithmic and capped buckets.
TINY_FEW_BUCKETS = dataclasses.replace(TINY, num_buckets=12, max_distance=20)

# transformers name inside encoder.block.{i}  ->  official Wan name inside blocks.{i}
HF_BLOCK_TO_OFFICIAL = {
    "layer.0.layer_norm.weight": "norm1.weight",
    "layer.0.SelfAttention.q.weight": "attn.q.weight",
    "layer.0.SelfAttention.k.weight": "attn.k.weight",
    "layer.0.SelfAttention.v.weight": "attn.v.weight",
    "layer.0.SelfAttention.o.weight": "attn.o.weight",
    "layer.0.SelfAttention.relative_attention_bias.weight": "pos_embedding.embedding.weight",
    "layer.1.layer_norm.weight": "norm2.weight",
    # transformers computes act(wi_0(x)) * wi_1(x): wi_0 is the GELU gate, wi_1 the linear branch.
    "layer.1.DenseReluDense.wi_0.weight": "ffn.gate.0.weight",
    "layer.1.DenseReluDense.wi_1.weight": "ffn.fc1.weight",
    "layer.1.DenseReluDense.wo.weight": "ffn.fc2.weight",
}
HF_TOP_TO_OFFICIAL = {
    "shared.weight": "token_embedding.weight",
    "encoder.final_layer_norm.weight": "norm.weight",
    "encoder.embed_tokens.weight": None,  # tied to shared.weight in transformers: the same tensor twice
}


def hf_to_official(state: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    out = {}
    for name, tensor in state.items():
        match = re.fullmatch(r"encoder\.block\.(\d+)\.(.+)", name)
        if match:
            out[f"blocks.{match[1]}.{HF_BLOCK_TO_OFFICIAL[match[2]]}"] = tensor
        elif HF_TOP_TO_OFFICIAL[name] is not None:
            out[HF_TOP_TO_OFFICIAL[name]] = tensor
    return out


def build_pair(cfg: UMT5Config, seed: int) -> tuple[UMT5Encoder, transformers.UMT5EncoderModel]:
    """A transformers UMT5 encoder with seeded random weights, and ours loaded from it (meta + assign)."""
    hf_cfg = transformers.UMT5Config(
        vocab_size=cfg.vocab_size,
        d_model=cfg.dim,
        d_kv=cfg.head_dim,
        d_ff=cfg.dim_ffn,
        num_layers=cfg.num_layers,
        num_heads=cfg.num_heads,
        relative_attention_num_buckets=cfg.num_buckets,
        relative_attention_max_distance=cfg.max_distance,
        layer_norm_epsilon=cfg.eps,
        dropout_rate=0.0,
        feed_forward_proj="gated-gelu",
        attn_implementation="eager",
    )
    hf = transformers.UMT5EncoderModel(hf_cfg).eval()
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for name, p in hf.named_parameters():
            noise = torch.randn(p.shape, generator=g)
            if "layer_norm" in name:
                p.copy_(1 + 0.3 * noise)  # not all ones, so swapped norm1/norm2 or a dropped weight shows
            elif "relative_attention_bias" in name or name == "shared.weight":
                p.copy_(noise)
            else:
                p.copy_(noise * p.shape[1] ** -0.5)
    with torch.device("meta"):
        ours = UMT5Encoder(cfg)
    ours.load_state_dict(hf_to_official(hf.state_dict()), strict=True, assign=True)
    return ours.eval(), hf


def make_inputs(cfg: UMT5Config, lengths: list[int], lt: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Random ids everywhere (padding too, so a leak through padded keys would show); mask 1 up to each length."""
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(0, cfg.vocab_size, (len(lengths), lt), generator=g)
    mask = (torch.arange(lt)[None, :] < torch.tensor(lengths)[:, None]).long()
    return ids, mask


CASES = [
    pytest.param(TINY, [1], 1, id="L1"),
    pytest.param(TINY, [17, 9], 17, id="L17"),
    pytest.param(TINY, [200, 133], 200, id="L200"),  # |rel| up to 199: every default bucket incl. the cap
    pytest.param(TINY_FEW_BUCKETS, [45, 30], 45, id="L45-12buckets"),
]


@pytest.mark.parametrize(("cfg", "lengths", "lt"), CASES)
def test_matches_transformers_fp32(cfg, lengths, lt, device):
    ours, hf = build_pair(cfg, seed=100 + lt)
    ours, hf = ours.to(device), hf.to(device)
    ids, mask = (t.to(device) for t in make_inputs(cfg, lengths, lt, seed=200 + lt))
    ids_before, mask_before = ids.clone(), mask.clone()
    with torch.no_grad():
        out = ours(ids, mask)
        ref = hf(input_ids=ids, attention_mask=mask).last_hidden_state
    keep = mask.bool()
    assert out.shape == (len(lengths), lt, cfg.dim) and out.dtype == torch.float32
    assert torch.equal(ids, ids_before) and torch.equal(mask, mask_before), "inputs were modified"
    err = rel_l2(out[keep], ref[keep])
    assert err <= tolerances.INDEPENDENT_IMPL_REL_L2, f"rel L2 {err:.3e} vs transformers"
    assert torch.equal(out[~keep], torch.zeros_like(out[~keep])), "padding rows are not exact zeros"


def test_bf16_matches_fp32_within_twice_transformers_bf16_error(device):
    ours, hf = build_pair(TINY, seed=7)
    ours, hf = ours.to(device), hf.to(device)
    ids, mask = (t.to(device) for t in make_inputs(TINY, [33, 20], 33, seed=8))
    keep = mask.bool()
    with torch.no_grad():
        truth = ours(ids, mask)
        out = ours.to(torch.bfloat16)(ids, mask)
        eager = hf.to(torch.bfloat16)(input_ids=ids, attention_mask=mask).last_hidden_state
    assert out.dtype == torch.bfloat16
    assert torch.equal(out[~keep], torch.zeros_like(out[~keep])), "padding rows are not exact zeros"
    assert_matches(out[keep], truth[keep], eager=eager[keep], dtype=torch.bfloat16)


# key - query -> bucket for umT5's 32 buckets and max distance 128, worked out by hand from models.md §6:
# rel <= 0 uses buckets 0..15, rel > 0 buckets 16..31; |rel| < 8 is exact; otherwise
# 8 + floor(ln(|rel| / 8) / ln(16) * 8), capped at 15 within the half.
HAND_BUCKETS = [
    (0, 0),
    (1, 17),
    (-1, 1),
    (7, 23),
    (-7, 7),
    (8, 24),  # ln(1) = 0 -> 8
    (-8, 8),
    (16, 26),  # ln(2) / ln(16) * 8 = 2 exactly: a bucket edge
    (-16, 10),
    (20, 26),  # ln(2.5) / ln(16) * 8 = 2.64 -> 2
    (-20, 10),
    (64, 30),  # ln(8) / ln(16) * 8 = 6 exactly
    (-64, 14),
    (127, 31),  # 7.977 -> 7 -> 15
    (-127, 15),
    (500, 31),  # 11.93 -> 11 -> 19, capped at 15
    (-500, 15),
]


@pytest.mark.parametrize(("rel", "bucket"), HAND_BUCKETS)
def test_relative_position_bucket_hand_values(rel, bucket):
    got = relative_position_bucket(torch.tensor([rel]), num_buckets=32, max_distance=128)
    assert got.dtype == torch.int64
    assert got.item() == bucket


@pytest.mark.parametrize("cfg", [TINY, TINY_FEW_BUCKETS], ids=["32buckets", "12buckets"])
def test_relative_position_bucket_equals_transformers(cfg):
    _, hf = build_pair(cfg, seed=3)
    rel = torch.arange(-700, 701)
    ref = hf.encoder.block[0].layer[0].SelfAttention._relative_position_bucket(rel)
    got = relative_position_bucket(rel, cfg.num_buckets, cfg.max_distance)
    assert torch.equal(got, ref)
    assert 0 <= got.min() and got.max() == cfg.num_buckets - 1


def test_padded_ids_do_not_change_real_rows():
    ours, _ = build_pair(TINY, seed=11)
    ids, mask = make_inputs(TINY, [19, 6], 26, seed=12)
    other = ids.clone()
    other[mask == 0] = (other[mask == 0] + 5) % TINY.vocab_size
    with torch.no_grad():
        a, b = ours(ids, mask), ours(other, mask)
    keep = mask.bool()
    assert torch.equal(a[~keep], torch.zeros_like(a[~keep]))
    assert (a[keep].abs().sum(-1) > 0).all(), "a real token's row is zero"
    assert_matches(b, a, dtype=torch.float32)


def test_batch_equals_each_prompt_alone():
    ours, _ = build_pair(TINY, seed=21)
    lengths = [23, 9]
    ids, mask = make_inputs(TINY, lengths, 23, seed=22)
    with torch.no_grad():
        batch = ours(ids, mask)
        for i, n in enumerate(lengths):
            alone = ours(ids[i : i + 1, :n], torch.ones(1, n, dtype=torch.int64))
            assert_matches(batch[i, :n], alone[0], dtype=torch.float32)
            assert torch.equal(batch[i, n:], torch.zeros_like(batch[i, n:]))


def test_bool_mask_equals_int_mask():
    ours, _ = build_pair(TINY, seed=31)
    ids, mask = make_inputs(TINY, [14, 5], 14, seed=32)
    with torch.no_grad():
        assert torch.equal(ours(ids, mask), ours(ids, mask.bool()))


def test_shared_pos_equals_per_layer_copies_of_one_table():
    shared_cfg = dataclasses.replace(TINY, shared_pos=True)
    per_layer, _ = build_pair(TINY, seed=41)
    state = per_layer.state_dict()
    table = state["blocks.0.pos_embedding.embedding.weight"]
    for i in range(TINY.num_layers):
        state[f"blocks.{i}.pos_embedding.embedding.weight"] = table  # every block uses block 0's table
    per_layer.load_state_dict(state)
    shared_state = {k: v for k, v in state.items() if ".pos_embedding." not in k}
    shared_state["pos_embedding.embedding.weight"] = table
    with torch.device("meta"):
        shared = UMT5Encoder(shared_cfg)
    shared.load_state_dict(shared_state, strict=True, assign=True)
    ids, mask = make_inputs(TINY, [12, 12], 12, seed=42)
    with torch.no_grad():
        assert_matches(shared(ids, mask), per_layer(ids, mask), dtype=torch.float32)


def official_umt5_shapes(cfg: UMT5Config) -> dict[str, tuple[int, ...]]:
    """Names and shapes of models_t5_umt5-xxl-enc-bf16.pth (models.md §6), written out independently."""
    shapes = {"token_embedding.weight": (cfg.vocab_size, cfg.dim), "norm.weight": (cfg.dim,)}
    for i in range(cfg.num_layers):
        p = f"blocks.{i}."
        shapes |= {
            p + "norm1.weight": (cfg.dim,),
            p + "norm2.weight": (cfg.dim,),
            p + "attn.q.weight": (cfg.dim_attn, cfg.dim),
            p + "attn.k.weight": (cfg.dim_attn, cfg.dim),
            p + "attn.v.weight": (cfg.dim_attn, cfg.dim),
            p + "attn.o.weight": (cfg.dim, cfg.dim_attn),
            p + "ffn.gate.0.weight": (cfg.dim_ffn, cfg.dim),
            p + "ffn.fc1.weight": (cfg.dim_ffn, cfg.dim),
            p + "ffn.fc2.weight": (cfg.dim, cfg.dim_ffn),
            p + "pos_embedding.embedding.weight": (cfg.num_buckets, cfg.num_heads),
        }
    return shapes


def test_meta_build_of_xxl_allocates_nothing_and_has_official_names():
    with torch.device("meta"):
        model = UMT5Encoder(UMT5_XXL)
    state = model.state_dict()
    assert list(model.buffers()) == []
    assert all(t.device.type == "meta" for t in state.values()), "a tensor was allocated off the meta device"
    assert {k: tuple(v.shape) for k, v in state.items()} == official_umt5_shapes(UMT5_XXL)
    assert state["blocks.0.pos_embedding.embedding.weight"].shape == (32, 64)
    assert sum(t.numel() for t in state.values()) == 5_680_910_336


def test_shared_pos_keys():
    with torch.device("meta"):
        model = UMT5Encoder(dataclasses.replace(TINY, shared_pos=True))
    keys = set(model.state_dict())
    assert "pos_embedding.embedding.weight" in keys
    assert not any(k.startswith("blocks.") and "pos_embedding" in k for k in keys)


def _inputs(ids_shape=(2, 5), mask_shape=None, ids_dtype=torch.int64):
    g = torch.Generator().manual_seed(51)
    ids = torch.randint(0, TINY.vocab_size, ids_shape, generator=g).to(ids_dtype)
    mask = torch.ones(mask_shape or ids_shape, dtype=torch.int64)
    return ids, mask


@pytest.mark.parametrize(
    ("make", "match"),
    [
        (lambda: _inputs((5,)), r"ids must be 2-D \[B, Lt\] \(got shape \[5\]\)"),
        (lambda: _inputs((2, 3, 5)), r"ids must be 2-D"),
        (
            lambda: _inputs(ids_dtype=torch.float32),
            r"ids must be integer token ids, torch.int64 or torch.int32 \(got torch.float32\)",
        ),
        (lambda: _inputs((2, 0)), r"at least one token per prompt"),
        (lambda: _inputs((2, 5), (2, 6)), r"mask must have the shape of ids \[2, 5\] \(got \[2, 6\]\)"),
        (lambda: _inputs((2, 5), (5,)), r"mask must have the shape of ids"),
        (
            lambda: (_inputs()[0], _inputs()[1].to("meta")),
            r"ids and mask must be on the weights' device cpu \(got ids on cpu, mask on meta\)",
        ),
        (
            lambda: (torch.full((1, 3), TINY.vocab_size), torch.ones(1, 3)),
            r"must lie in \[0, 97\) \(got min 97",
        ),
        (lambda: (torch.full((1, 3), -1), torch.ones(1, 3)), r"must lie in \[0, 97\) \(got min -1"),
    ],
    ids=[
        "ids-1d",
        "ids-3d",
        "ids-float",
        "empty",
        "mask-shape",
        "mask-1d",
        "mask-device",
        "id-high",
        "id-neg",
    ],
)
def test_bad_inputs_raise(make, match):
    ours, _ = build_pair(TINY, seed=52)
    ids, mask = make()
    with pytest.raises(ValueError, match=match):
        ours(ids, mask)


def test_int32_ids_accepted():
    ours, _ = build_pair(TINY, seed=53)
    ids, mask = make_inputs(TINY, [6], 6, seed=54)
    with torch.no_grad():
        assert torch.equal(ours(ids.int(), mask), ours(ids, mask))


def test_float16_weights_raise():
    ours, _ = build_pair(TINY, seed=55)
    ids, mask = _inputs()
    with pytest.raises(
        ValueError,
        match=r"umT5 does not run in float16.*use torch.bfloat16.*\(got weights in torch.float16\)",
    ):
        ours.half()(ids, mask)


@pytest.mark.parametrize(
    ("changes", "match"),
    [
        ({"dim": 0}, r"dim must be a positive int \(got 0\)"),
        ({"num_layers": True}, r"num_layers must be a positive int \(got True\)"),
        ({"vocab_size": 3.0}, r"vocab_size must be a positive int"),
        ({"dim_attn": 50}, r"dim_attn=50 is not divisible by num_heads=4"),
        ({"num_buckets": 31}, r"num_buckets must be even and >= 4 .*\(got 31\)"),
        ({"num_buckets": 2}, r"num_buckets must be even and >= 4 .*\(got 2\)"),
        ({"max_distance": 8}, r"max_distance must exceed num_buckets // 4 = 8,.*\(got 8\)"),
        ({"shared_pos": 1}, r"shared_pos must be a bool \(got 1\)"),
        ({"eps": 0.0}, r"eps must be > 0 \(got 0.0\)"),
        ({"text_len": -1}, r"text_len must be a positive int \(got -1\)"),
    ],
    ids=[
        "dim",
        "bool-int",
        "float-int",
        "dim_attn",
        "odd-buckets",
        "few-buckets",
        "max_distance",
        "shared_pos",
        "eps",
        "text_len",
    ],
)
def test_config_validation(changes, match):
    with pytest.raises(ValueError, match=match):
        dataclasses.replace(TINY, **changes)


def test_xxl_preset_is_models_md_section_6():
    assert dataclasses.asdict(UMT5_XXL) == {
        "vocab_size": 256384,
        "dim": 4096,
        "dim_attn": 4096,
        "dim_ffn": 10240,
        "num_heads": 64,
        "num_layers": 24,
        "num_buckets": 32,
        "max_distance": 128,
        "shared_pos": False,
        "eps": 1e-6,
        "text_len": 512,
    }
    assert UMT5_XXL.head_dim == 64
