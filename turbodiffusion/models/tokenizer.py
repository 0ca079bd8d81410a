"""The umT5 tokenizer wrapper and Wan's prompt cleaning (shared/docs/models.md §6).

Prompts are cleaned (``clean_text``), tokenised with the ``google/umt5-xxl`` ``tokenizer.json`` through the
``tokenizers`` package (optional extra ``text``), given a trailing EOS ``</s>``, truncated or right-padded
with ``<pad>`` to ``text_len`` tokens (512 in Wan), and returned with the attention mask. This is what the
official Wan code gets from ``transformers`` with ``padding="max_length", truncation=True``: a truncated
prompt keeps its EOS as the last token.
"""

from __future__ import annotations

import html
import importlib.util
import logging
import re
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import Tensor

from ..errors import require

if TYPE_CHECKING:
    from tokenizers import Tokenizer

logger = logging.getLogger(__name__)

PAD_TOKEN = "<pad>"
EOS_TOKEN = "</s>"
TOKENIZER_FILE = "tokenizer.json"
_WHITESPACE = re.compile(r"\s+")


def clean_text(text: str) -> str:
    """Wan's prompt cleaning: ``ftfy.fix_text`` (when ftfy is installed), HTML-unescape twice, strip,
    collapse every whitespace run to one space.

    Unescaping twice turns doubly-escaped entities such as ``&amp;amp;`` into ``&``, as the official code
    does; a third level of escaping is left alone.
    """
    try:
        import ftfy
    except ImportError:  # optional: without it only mis-encoded (mojibake) text comes out differently
        ftfy = None
    if ftfy is not None:
        text = ftfy.fix_text(text)
    text = html.unescape(html.unescape(text)).strip()
    return _WHITESPACE.sub(" ", text).strip()


def check_prompts(prompts: object) -> None:
    """Raise ValueError unless ``prompts`` is a non-empty list (sequence, not a str) of str."""
    if isinstance(prompts, str) or not isinstance(prompts, Sequence):
        raise ValueError(
            f"prompts must be a list of strings (got {type(prompts).__name__}); wrap one prompt as [prompt]"
        )
    if not prompts:
        raise ValueError("prompts must hold at least one prompt (got an empty list)")
    for i, prompt in enumerate(prompts):
        if not isinstance(prompt, str):
            raise ValueError(f"prompts[{i}] must be a str (got {type(prompt).__name__})")


class UMT5Tokenizer:
    """Turns prompts into umT5 ids and masks of a fixed length.

    Build it with ``from_folder``. ``tokenizer`` is a ``tokenizers.Tokenizer`` that this object takes over:
    its truncation, padding and (when it does not already append ``</s>``) post-processor are replaced.
    """

    def __init__(self, tokenizer: Tokenizer, text_len: int = 512, *, name: str = "tokenizer") -> None:
        if isinstance(text_len, bool) or not isinstance(text_len, int) or text_len < 1:
            raise ValueError(f"text_len must be a positive int (got {text_len!r}); Wan uses 512")
        pad_id = tokenizer.token_to_id(PAD_TOKEN)
        eos_id = tokenizer.token_to_id(EOS_TOKEN)
        missing = [t for t, i in ((PAD_TOKEN, pad_id), (EOS_TOKEN, eos_id)) if i is None]
        if missing:
            raise ValueError(
                f"{name} has no token {' or '.join(map(repr, missing))}; umT5 needs {PAD_TOKEN!r} and "
                f"{EOS_TOKEN!r}: use the google/umt5-xxl {TOKENIZER_FILE}"
            )
        self.text_len = text_len
        self.pad_id: int = pad_id
        self.eos_id: int = eos_id
        self._tokenizer = tokenizer

        tokenizer.no_truncation()
        tokenizer.no_padding()
        if not self._appends_eos():
            # The google/umt5-xxl file's TemplateProcessing already appends </s>; adding ours too would
            # give two. Any other file gets it here, after whatever its own post-processor does.
            processors = require("tokenizers.processors", "text", "the umT5 tokenizer")
            eos = processors.TemplateProcessing(
                single=f"$A {EOS_TOKEN}",
                pair=f"$A {EOS_TOKEN} $B {EOS_TOKEN}",
                special_tokens=[(EOS_TOKEN, eos_id)],
            )
            current = tokenizer.post_processor
            tokenizer.post_processor = eos if current is None else processors.Sequence([current, eos])
            logger.debug("%s does not append %s; appending it after its post-processor", name, EOS_TOKEN)
        # The library reserves room for the post-processor's tokens when truncating, so a long prompt
        # keeps its EOS as the last token, as transformers does with truncation=True.
        tokenizer.enable_truncation(max_length=text_len, direction="right")
        tokenizer.enable_padding(direction="right", length=text_len, pad_id=pad_id, pad_token=PAD_TOKEN)

    @classmethod
    def from_folder(cls, path: str | Path, text_len: int = 512) -> UMT5Tokenizer:
        """Load ``<path>/tokenizer.json`` of a local ``google/umt5-xxl`` folder.

        Raises MissingDependencyError without the ``tokenizers`` package, FileNotFoundError without the
        file, ValueError for a bad ``text_len`` or a file lacking ``<pad>`` / ``</s>``.
        """
        tokenizers = require("tokenizers", "text", "the umT5 tokenizer")
        file = Path(path) / TOKENIZER_FILE
        if not file.is_file():
            raise FileNotFoundError(
                f"umT5 tokenizer file not found: {file}. Pass the google/umt5-xxl folder that holds "
                f"{TOKENIZER_FILE}; `turbodiffusion download wan2.1-t2v-1.3b` fetches it"
            )
        if importlib.util.find_spec("ftfy") is None:
            logger.info(
                "ftfy is not installed: prompts are cleaned without ftfy.fix_text (only mis-encoded text differs)"
            )
        return cls(tokenizers.Tokenizer.from_file(str(file)), text_len, name=str(file))

    def __call__(self, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """Tokenise a batch of prompts.

        prompts: B strings, cleaned with ``clean_text`` first.
        Returns (ids, mask), both [B, text_len] int64: ids end each prompt with EOS and pad with the pad id;
        mask is 1 for the prompt's tokens and its EOS, 0 for padding.
        """
        check_prompts(prompts)
        encodings = self._tokenizer.encode_batch([clean_text(p) for p in prompts], add_special_tokens=True)
        ids = torch.tensor([e.ids for e in encodings], dtype=torch.int64)
        mask = torch.tensor([e.attention_mask for e in encodings], dtype=torch.int64)
        return ids, mask

    def _appends_eos(self) -> bool:
        """Whether the tokenizer's own post-processor already ends a sequence with EOS."""
        probe = "a"
        plain = self._tokenizer.encode(probe, add_special_tokens=False).ids
        full = self._tokenizer.encode(probe, add_special_tokens=True).ids
        return len(full) > len(plain) and full[-1] == self.eos_id


__all__ = ["UMT5Tokenizer", "clean_text"]
