"""Prompts to text context: a tokenizer plus the umT5 encoder, and the dependency-free byte tokenizer.

The official path is ``UMT5Tokenizer`` (google/umt5-xxl tokenizer.json) + ``UMT5Encoder``; the built-in
random model uses ``ByteTokenizer`` (UTF-8 bytes, no files, no extra package) + a tiny umT5-layout
encoder. Both tokenizers return (ids, mask) [B, Lt] int64 with the umT5 conventions (pad id 0, EOS 1).
The trained default model uses ``models.minilm`` (all-MiniLM-L6-v2: [CLS] ... [SEP], pad id 0) with the
same (ids, mask) interface, so ``encode_prompts`` serves all three.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Callable

import torch
from torch import Tensor, nn

Tokenizer = Callable[[list[str]], tuple[Tensor, Tensor]]

# umT5's special ids: <pad> = 0, </s> = 1, <unk> = 2. Bytes follow, so the vocabulary has 3 + 256 rows.
BYTE_PAD_ID = 0
BYTE_EOS_ID = 1
BYTE_OFFSET = 3
BYTE_VOCAB = BYTE_OFFSET + 256


class ByteTokenizer:
    """UTF-8 bytes as tokens: id = byte + 3, then EOS; truncated (keeping EOS) or padded to ``text_len``."""

    def __init__(self, text_len: int) -> None:
        if isinstance(text_len, bool) or not isinstance(text_len, int) or text_len < 1:
            raise ValueError(f"text_len must be a positive int (got {text_len!r})")
        self.text_len = text_len

    def __call__(self, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """prompts: B strings. Returns (ids, mask), both [B, text_len] int64; mask 1 on bytes and EOS."""
        if isinstance(prompts, str) or not prompts:
            raise ValueError("prompts must be a non-empty list of strings; wrap one prompt as [prompt]")
        ids = torch.full((len(prompts), self.text_len), BYTE_PAD_ID, dtype=torch.int64)
        mask = torch.zeros((len(prompts), self.text_len), dtype=torch.int64)
        for row, prompt in enumerate(prompts):
            tokens = [b + BYTE_OFFSET for b in " ".join(prompt.split()).encode("utf-8")]
            tokens = tokens[: self.text_len - 1] + [BYTE_EOS_ID]
            ids[row, : len(tokens)] = torch.tensor(tokens)
            mask[row, : len(tokens)] = 1
        return ids, mask


# A trimmed context keeps a multiple of this many rows: prompts of similar lengths share one shape (one set of
# CUDA graphs a shape), and a 24-token prompt still costs the DiT 32 + 16 keys, not text_len.
CONTEXT_ROWS_MULTIPLE = 32


def trimmed_rows(mask: Tensor) -> int:
    """The rows ``encode_prompts(trim=True)`` keeps of a tokenizer's mask [B, text_len] (1 = token): up to
    the last token of any prompt, rounded up to a multiple of CONTEXT_ROWS_MULTIPLE, at most text_len."""
    used = torch.nonzero(mask.any(0))  # the tokenizer's tensors live on the host: no device sync
    end = int(used.max()) + 1 if used.numel() else 1
    return min(mask.shape[1], -(-end // CONTEXT_ROWS_MULTIPLE) * CONTEXT_ROWS_MULTIPLE)


def encode_prompts(
    tokenizer: Tokenizer, encoder: nn.Module, prompts: list[str], *, trim: bool = False
) -> Tensor:
    """Tokenise and encode on the encoder's device. Returns context [B, Lt, dim] in the encoder's dtype,
    padding rows exactly zero: Lt = the tokenizer's text_len, or with ``trim`` the rows up to the longest
    prompt's end rounded up to a multiple of CONTEXT_ROWS_MULTIPLE (at most text_len).

    Trimming is exact for the DiT: it attends to the padding it is given or not as weighted keys
    (models.wan.text_padding), so its output is the full context's up to rounding; the encoder, whose
    padding keys are masked, gives the same prompt rows. Both then work on Lt rows instead of text_len.
    Training caches keep the full length (stacked into batches)."""
    device = next(encoder.parameters()).device
    ids, mask = tokenizer(prompts)
    if trim:
        rows = trimmed_rows(mask)
        ids, mask = ids[:, :rows], mask[:, :rows]
    with torch.inference_mode():
        return encoder(ids.to(device), mask.to(device))


class PromptCache:
    """The contexts of the last ``size`` prompt lists a pipeline encoded, newest last.

    A repeated prompt (a sweep over seeds, say) then skips the tokenizer and the encoder and, where the
    encoder is parked on the CPU between calls (umT5-XXL's 11 GB, on a GPU too small to keep every network),
    its trips to the device and back. The encoder is deterministic, so a cached context is the one encoding
    would give. Each entry is one context [B, Lt, dim] (umT5-XXL: 4 MB a prompt in bf16), kept where it was
    made."""

    def __init__(self, size: int = 8) -> None:
        if isinstance(size, bool) or not isinstance(size, int) or size < 1:
            raise ValueError(f"size must be a positive int (got {size!r})")
        self.size = size
        self._entries: OrderedDict[tuple[str, ...], Tensor] = OrderedDict()

    def __len__(self) -> int:
        return len(self._entries)

    def get(self, prompts: list[str]) -> Tensor | None:
        """The context cached for ``prompts`` (and mark it the newest), or None."""
        context = self._entries.get(tuple(prompts))
        if context is not None:
            self._entries.move_to_end(tuple(prompts))
        return context

    def put(self, prompts: list[str], context: Tensor) -> None:
        """Keep ``context`` for ``prompts``, dropping the oldest entry past ``size``."""
        self._entries[tuple(prompts)] = context
        self._entries.move_to_end(tuple(prompts))
        while len(self._entries) > self.size:
            self._entries.popitem(last=False)

    def clear(self) -> None:
        self._entries.clear()
