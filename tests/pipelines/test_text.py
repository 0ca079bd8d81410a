"""The dependency-free byte tokenizer of the built-in model."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.pipelines.text import BYTE_EOS_ID, BYTE_OFFSET, BYTE_PAD_ID, ByteTokenizer


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
