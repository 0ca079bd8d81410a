"""The dependency-free byte tokenizer of the built-in model."""

from __future__ import annotations

import dataclasses

import pytest
import torch

from turbodiffusion.models.umt5 import UMT5Encoder
from turbodiffusion.pipelines.builtin import BUILTIN_UMT5
from turbodiffusion.pipelines.text import (
    BYTE_EOS_ID,
    BYTE_OFFSET,
    BYTE_PAD_ID,
    CONTEXT_ROWS_MULTIPLE,
    ByteTokenizer,
    PromptCache,
    encode_prompts,
)
from turbodiffusion.testing import tolerances
from turbodiffusion.testing.compare import rel_l2


def _random_encoder(text_len: int) -> UMT5Encoder:
    encoder = UMT5Encoder(dataclasses.replace(BUILTIN_UMT5, text_len=text_len))
    g = torch.Generator().manual_seed(0)
    with torch.no_grad():
        for p in encoder.parameters():
            p.copy_(torch.randn(p.shape, generator=g) * (p.shape[-1] ** -0.5 if p.dim() == 2 else 1.0))
    return encoder.eval()


def test_trimmed_context_keeps_the_prompt_rows():
    """trim=True: the rows up to the longest prompt's end (41 tokens here, 64 rows kept), equal to the full
    context's up to summation order; every row cut is padding (exact zeros in the full context)."""
    assert CONTEXT_ROWS_MULTIPLE == 32
    tokenizer, encoder = ByteTokenizer(100), _random_encoder(100)
    prompts = ["a short one", "x" * 40]
    full = encode_prompts(tokenizer, encoder, prompts)
    trimmed = encode_prompts(tokenizer, encoder, prompts, trim=True)
    assert full.shape == (2, 100, BUILTIN_UMT5.dim) and trimmed.shape == (2, 64, BUILTIN_UMT5.dim)
    assert not full[:, 64:].any()
    assert trimmed[0, 12:].abs().sum() == 0 and trimmed[1, 41:].abs().sum() == 0
    assert rel_l2(trimmed, full[:, :64]) <= tolerances.INDEPENDENT_IMPL_REL_L2


def test_trimmed_context_is_at_most_text_len():
    tokenizer, encoder = ByteTokenizer(40), _random_encoder(40)
    assert encode_prompts(tokenizer, encoder, ["y" * 100], trim=True).shape[1] == 40
    assert encode_prompts(tokenizer, encoder, ["y"], trim=True).shape[1] == 32


def test_bytes_then_eos_then_padding():
    ids, mask = ByteTokenizer(8)(["ab", "é"])
    assert ids.dtype == torch.int64 and ids.shape == (2, 8)
    assert ids[0, :3].tolist() == [ord("a") + BYTE_OFFSET, ord("b") + BYTE_OFFSET, BYTE_EOS_ID]
    assert ids[0, 3:].tolist() == [BYTE_PAD_ID] * 5
    assert ids[1, :3].tolist() == [0xC3 + BYTE_OFFSET, 0xA9 + BYTE_OFFSET, BYTE_EOS_ID]  # UTF-8 of é
    assert mask.tolist() == [[1, 1, 1, 0, 0, 0, 0, 0]] * 2


def test_truncation_keeps_eos_and_whitespace_collapses():
    ids, mask = ByteTokenizer(4)(["  a   b  c d "])
    assert ids[0].tolist() == [
        ord("a") + BYTE_OFFSET,
        ord(" ") + BYTE_OFFSET,
        ord("b") + BYTE_OFFSET,
        BYTE_EOS_ID,
    ]
    assert mask.sum().item() == 4


def test_bad_arguments():
    with pytest.raises(ValueError, match="text_len must be a positive int"):
        ByteTokenizer(0)
    with pytest.raises(ValueError, match="non-empty list of strings"):
        ByteTokenizer(4)("a prompt")
    with pytest.raises(ValueError, match="non-empty list of strings"):
        ByteTokenizer(4)([])


def test_prompt_cache_keeps_the_newest_entries():
    cache = PromptCache(size=2)
    a, b, c = torch.zeros(1), torch.ones(1), torch.full((1,), 2.0)
    cache.put(["a"], a)
    cache.put(["b", "neg"], b)
    assert cache.get(["a"]) is a  # now the newest
    cache.put(["c"], c)  # drops ["b", "neg"], the oldest
    assert len(cache) == 2 and cache.get(["b", "neg"]) is None
    assert cache.get(["a"]) is a and cache.get(["c"]) is c
    assert cache.get(["b"]) is None  # the negative prompt is part of the key
    cache.clear()
    assert len(cache) == 0 and cache.get(["a"]) is None


@pytest.mark.parametrize("size", [0, -1, 1.5, True])
def test_prompt_cache_size_must_be_positive(size):
    with pytest.raises(ValueError, match="size must be a positive int"):
        PromptCache(size)
