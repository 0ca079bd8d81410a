"""Quantisation configs: which linears become low-bit, in which format, with which kernels.

A config is stored beside the weights it produced (safetensors metadata, key ``quant_config``), so it is
versioned and read back only through :func:`config_from_dict`, which accepts the config types and field
names listed here and nothing else.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, fields
from typing import Literal

Impl = Literal["auto", "triton", "reference"]
IMPLS: tuple[str, ...] = ("auto", "triton", "reference")

# The on-disk block of the TurboWan format: one fp32 scale per 128x128 weight tile (quantization.md §2).
BLOCK = 128
# Bump when the meaning of a stored field changes; from_dict refuses versions it does not know.
INT8_CONFIG_VERSION = 1
FP8_CONFIG_VERSION = 1
FP8_ROW_CONFIG_VERSION = 1


def _check_common(cfg: Int8Config | Fp8Config) -> None:
    if cfg.block != BLOCK:
        raise ValueError(
            f"block must be {BLOCK} (got {cfg.block}): the TurboWan format and the GEMM kernels use "
            f"{BLOCK}x{BLOCK} tiles"
        )
    _check_skip_impl(cfg)


def _check_version(cfg: QuantConfig, supported: int) -> None:
    if cfg.version != supported:
        raise ValueError(
            f"{type(cfg).__name__} version {cfg.version} is not supported; this TurboDiffusion reads version "
            f"{supported} (upgrade TurboDiffusion to read newer files)"
        )


def _check_skip_impl(cfg: QuantConfig) -> None:
    if not isinstance(cfg.skip, tuple) or not all(isinstance(s, str) and s for s in cfg.skip):
        raise ValueError(f"skip must be a tuple of non-empty strings (got {cfg.skip!r}); e.g. ('proj_l',)")
    if cfg.impl not in IMPLS:
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {cfg.impl!r})')


@dataclass(frozen=True)
class Int8Config:
    """W8A8 INT8, the TurboWan format (quantization.md §1-§4): the faithful default for TurboWan files.

    Weights: int8 codes per 128x128 tile with an fp32 scale; activations: quantised on every call with the
    same 128-token x 128-channel rule; INT8 GEMM with the scales folded in per 128-wide K slice.
    """

    version: int = INT8_CONFIG_VERSION  # format version stored with the weights
    block: int = BLOCK  # tile edge for weights and activations; only 128 exists on disk
    skip: tuple[str, ...] = (
        "proj_l",
    )  # linears whose name contains one of these stay in float (SLA's proj_l)
    impl: Impl = "auto"  # "auto": Triton kernels on CUDA, PyTorch reference on CPU

    def __post_init__(self) -> None:
        _check_version(self, INT8_CONFIG_VERSION)
        _check_common(self)

    def to_dict(self) -> dict:
        return {"type": "int8", **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def from_dict(cls, d: dict | str) -> Int8Config:
        """Inverse of ``to_dict``; refuses other config types, unknown fields and unknown versions."""
        return _from_dict_as(cls, d)


@dataclass(frozen=True)
class Fp8Config:
    """W8A8 FP8 (e4m3) for Hopper-class GPUs: our own mode, not a TurboWan format.

    Weights: e4m3 codes per 128x128 tile with an fp32 scale (amax / 448), made from float weights or by
    re-quantising an ``Int8Linear``. Activations: one scale per token per 128 channels (1x128): FP8 has
    3 mantissa bits, so a finer activation tile buys back accuracy, and a row-wise scale costs the GEMM
    epilogue nothing extra.
    """

    version: int = FP8_CONFIG_VERSION  # format version stored with the weights
    block: int = BLOCK  # weight tile edge and activation tile width
    skip: tuple[str, ...] = ("proj_l",)  # linears whose name contains one of these stay in float
    impl: Impl = "auto"  # "auto": Triton kernels on CUDA, PyTorch reference on CPU

    def __post_init__(self) -> None:
        _check_version(self, FP8_CONFIG_VERSION)
        _check_common(self)

    def to_dict(self) -> dict:
        return {"type": "fp8", **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def from_dict(cls, d: dict | str) -> Fp8Config:
        """Inverse of ``to_dict``; refuses other config types, unknown fields and unknown versions."""
        return _from_dict_as(cls, d)


@dataclass(frozen=True)
class Fp8RowConfig:
    """W8A8 FP8 (e4m3) with row-wise scales, for PyTorch's row-wise FP8 GEMM on Hopper-class GPUs: our own
    mode, not a TurboWan format.

    Weights: e4m3 codes with one fp32 scale per output channel (amax / 448); activations: one scale per
    token over all its channels. Both scales factor out of the K sum, so the GEMM is a plain FP8 GEMM with a
    row and column scale in its epilogue (1.4-1.7x cuBLAS bf16 on an H200 at Wan's shapes), and with
    ``WanDiT.enable_fused_ops`` the activations of q/k/v, the cross-attention query and the FFN are
    quantised by the norm kernels that produce them. Coarser than Fp8Config's 1x128 activation tiles: a
    token with one outlier channel loses resolution on all of its channels (benchmarks/linear.py reports
    the error of each mode).
    """

    version: int = FP8_ROW_CONFIG_VERSION  # format version stored with the weights
    skip: tuple[str, ...] = ("proj_l",)  # linears whose name contains one of these stay in float
    fast_accum: bool = False  # FP8 accumulation without periodic fp32 promotion: faster, less exact
    impl: Impl = "auto"  # "auto": row-wise torch._scaled_mm and Triton quantisers on CUDA, references on CPU

    def __post_init__(self) -> None:
        _check_version(self, FP8_ROW_CONFIG_VERSION)
        _check_skip_impl(self)
        if not isinstance(self.fast_accum, bool):
            raise ValueError(f"fast_accum must be a bool (got {self.fast_accum!r})")

    def to_dict(self) -> dict:
        return {"type": "fp8_row", **{f.name: _plain(getattr(self, f.name)) for f in fields(self)}}

    @classmethod
    def from_dict(cls, d: dict | str) -> Fp8RowConfig:
        """Inverse of ``to_dict``; refuses other config types, unknown fields and unknown versions."""
        return _from_dict_as(cls, d)


QuantConfig = Int8Config | Fp8Config | Fp8RowConfig

# The allow-list: the only types and fields from_dict builds. Tuples arrive from JSON as lists.
_TYPES: dict[str, type] = {"int8": Int8Config, "fp8": Fp8Config, "fp8_row": Fp8RowConfig}
_TUPLE_FIELDS = ("skip",)


def _plain(value: object) -> object:
    return list(value) if isinstance(value, tuple) else value


def config_from_dict(d: dict) -> QuantConfig:
    """Rebuild a config written by ``to_dict`` (or a JSON string of it); unknown types or fields raise.

    Raises ValueError naming the offending key, so a file from a newer or foreign tool is refused rather
    than half-read.
    """
    if isinstance(d, str):
        try:
            d = json.loads(d)
        except json.JSONDecodeError as err:
            raise ValueError(f"quant config is not valid JSON ({err}): {d[:80]!r}") from err
    if not isinstance(d, dict):
        raise ValueError(f"quant config must be a dict (got {type(d).__name__})")
    kind = d.get("type")
    if kind not in _TYPES:
        raise ValueError(f"unknown quant config type {kind!r}; known: {', '.join(_TYPES)}")
    cls = _TYPES[kind]
    allowed = {f.name for f in fields(cls)}
    unknown = sorted(set(d) - allowed - {"type"})
    if unknown:
        raise ValueError(
            f"unknown field(s) {unknown} for {cls.__name__}; allowed: {sorted(allowed)} (written by a newer "
            "TurboDiffusion?)"
        )
    if "version" not in d:
        raise ValueError(f"{cls.__name__} dict has no 'version'; every stored quant config carries one")
    kwargs = {k: (tuple(v) if k in _TUPLE_FIELDS and isinstance(v, list) else v) for k, v in d.items()}
    kwargs.pop("type")
    return cls(**kwargs)


def _from_dict_as(cls: type, d: dict | str) -> QuantConfig:
    cfg = config_from_dict(d)
    if not isinstance(cfg, cls):
        raise ValueError(f"expected a {cls.__name__} dict, got a {type(cfg).__name__} one ({cfg.to_dict()})")
    return cfg
