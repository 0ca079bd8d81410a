"""TextContextCache: forwards that reuse a context's cross-attention k and v give the uncached output bit for
bit, compute them once, and refuse the uses that would make them wrong."""

from __future__ import annotations

import gc
import weakref

import pytest
import torch
from torch import nn

from turbodiffusion.models.wan import TextContextCache, WanDiT, WanDiTConfig
from turbodiffusion.pipelines.block_offload import stream_blocks
from turbodiffusion.pipelines.builtin import random_state_dict
from turbodiffusion.quant import Fp8RowConfig, quantize_

# dim 128: Fp8RowLinear needs widths that are multiples of 16. Three blocks, a context shorter than text_len.
CONFIG = WanDiTConfig(dim=128, ffn_dim=256, num_heads=2, num_layers=3, text_dim=32, text_len=8, freq_dim=32)


def make_model(seed: int = 0, fused: bool = False, fp8: bool = False) -> WanDiT:
    with torch.device("meta"):
        model = WanDiT(CONFIG)
    model.load_state_dict(random_state_dict(model, torch.Generator().manual_seed(seed)), assign=True)
    if fp8:
        quantize_(model, Fp8RowConfig())
    model.enable_fused_ops(fused)
    return model.eval()


def steps(seed: int = 1, count: int = 3) -> list[tuple[torch.Tensor, torch.Tensor]]:
    """(x, t) of a few denoising steps: a new latent and timestep each."""
    g = torch.Generator().manual_seed(seed)
    return [(torch.randn(1, 16, 2, 4, 6, generator=g), torch.tensor([900.0 - 250 * i])) for i in range(count)]


def context(seed: int = 2) -> torch.Tensor:
    return torch.randn(1, 5, CONFIG.text_dim, generator=torch.Generator().manual_seed(seed))


def count_calls(modules: list[nn.Module]) -> list[int]:
    """A one-element list counting the forwards of ``modules`` (hooks stay for the model's lifetime)."""
    calls = [0]
    for m in modules:
        m.register_forward_pre_hook(lambda *_: calls.__setitem__(0, calls[0] + 1))
    return calls


@pytest.mark.parametrize(("fused", "fp8"), [(False, False), (True, False), (True, True)])
def test_cached_forwards_equal_uncached_and_compute_keys_once(fused, fp8):
    model = make_model(fused=fused, fp8=fp8)
    ctx = context()
    projections = count_calls([m for b in model.blocks for m in (b.cross_attn.k, b.cross_attn.v)])
    embeddings = count_calls([model.text_embedding])
    with torch.no_grad():
        want = [model(x, t, ctx) for x, t in steps()]
        assert projections[0] == 3 * 2 * CONFIG.num_layers and embeddings[0] == 3
        projections[0] = embeddings[0] = 0
        cache = TextContextCache(ctx)
        got = [model(x, t, cache) for x, t in steps()]
    assert projections[0] == 2 * CONFIG.num_layers and embeddings[0] == 1
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)
    k, v = cache.keys_values(model.blocks[0])
    assert k.shape == v.shape == (1, CONFIG.text_len, CONFIG.num_heads, CONFIG.dim // CONFIG.num_heads)
    assert cache.nbytes() > 2 * CONFIG.num_layers * k.nbytes


def test_clear_recomputes_and_a_second_model_is_refused():
    model, other = make_model(0), make_model(1)
    ctx = context()
    embeddings = count_calls([model.text_embedding])
    x, t = steps(count=1)[0]
    cache = TextContextCache(ctx)
    with torch.no_grad():
        first = model(x, t, cache)
        cache.clear()
        assert cache.embedded is None and cache.nbytes() == 0
        again = model(x, t, cache)
        assert embeddings[0] == 2 and torch.equal(first, again)
        with pytest.raises(ValueError, match="one cache per model"):
            other(x, t, cache)
        # The refusal leaves the cache as it was: the first model still reads it.
        assert torch.equal(model(x, t, cache), first) and embeddings[0] == 2


def test_training_forward_is_refused_and_frozen_weights_are_not():
    model = make_model()
    x, t = steps(count=1)[0]
    with pytest.raises(ValueError, match="for inference"):
        model(x, t, TextContextCache(context()))
    model.requires_grad_(False)
    assert torch.isfinite(model(x, t, TextContextCache(context()))).all()


def test_bad_context_is_still_checked():
    model = make_model()
    x, t = steps(count=1)[0]
    with pytest.raises(TypeError, match="output tensor"):
        TextContextCache([1, 2, 3])
    with torch.no_grad(), pytest.raises(ValueError, match="text_dim"):
        model(x, t, TextContextCache(torch.randn(1, 5, CONFIG.text_dim + 1)))


def test_streamed_blocks_fill_the_cache_inside_their_own_forward():
    """With blocks streamed onto the device one at a time, each block's k and v are made while it is there,
    and later forwards read them: the same output as the resident model without a cache."""
    model = make_model()
    ctx = context()
    with torch.no_grad():
        want = [model(x, t, ctx) for x, t in steps()]
    cache = TextContextCache(ctx)
    with stream_blocks(model, "cpu", depth=1), torch.no_grad():
        got = [model(x, t, cache) for x, t in steps()]
    for a, b in zip(got, want, strict=True):
        assert torch.equal(a, b)


def test_the_cache_does_not_keep_its_model_alive():
    model = make_model()
    cache = TextContextCache(context())
    x, t = steps(count=1)[0]
    with torch.no_grad():
        model(x, t, cache)
    dead = weakref.ref(model)
    del model
    gc.collect()
    assert dead() is None and cache.nbytes() > 0
    # A new model (whatever ids it reuses) starts from an empty cache.
    other = make_model(1)
    embeddings = count_calls([other.text_embedding])
    with torch.no_grad():
        want = other(x, t, context())
        got = other(x, t, cache)
    assert embeddings[0] == 2 and torch.equal(got, want)
