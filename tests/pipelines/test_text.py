"""The dependency-free byte tokenizer of the built-in model."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.pipelines.text import BYTE_EOS_ID, BYTE_OFFSET, BYTE_PAD_ID, ByteTokenizer, PromptCache


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
