"""Load checkpoints into models: build on the meta device, map names, validate, assign.

The only place that turns files into modules. Every loader follows the same steps:

1. build the module on the meta device (``meta.on_meta``: no memory, no initialisers run),
2. read the file's names and shapes without reading data, map names through ``key_maps``,
3. validate: one CheckpointError lists missing, unexpected and mis-shaped keys with a hint,
4. read each tensor, convert layout and dtype, and ``load_state_dict(assign=True)``.

Nothing half-loaded is returned: any failure raises before the model leaves this module. With
``mmap=True`` .pth files and lazy safetensors reads, a model is never held twice in memory.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

import torch
from torch import Tensor, nn

from ..attention import AttentionConfig
from ..errors import CheckpointError
from . import key_maps
from .checkpoint_io import CheckpointReader, save_safetensors
from .meta import on_meta

logger = logging.getLogger(__name__)

Source = str | os.PathLike | list
SHOWN_PER_LIST = 5


@dataclass
class KeyReport:
    """How a file's keys compare with a module's state dict."""

    missing: list[str] = field(default_factory=list)
    unexpected: list[str] = field(default_factory=list)
    mis_shaped: list[str] = field(default_factory=list)  # "name: file [..] vs model [..]"

    def __bool__(self) -> bool:
        return bool(self.missing or self.unexpected or self.mis_shaped)

    def describe(self) -> str:
        lines = []
        for label, items in (
            ("missing", self.missing),
            ("unexpected", self.unexpected),
            ("mis-shaped", self.mis_shaped),
        ):
            if items:
                shown = ", ".join(items[:SHOWN_PER_LIST])
                more = f" (first {SHOWN_PER_LIST} shown)" if len(items) > SHOWN_PER_LIST else ""
                lines.append(f"  {label} ({len(items)}): {shown}{more}")
        return "\n".join(lines)


def _map_name(name: str) -> str:
    for prefix in key_maps.STRIP_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _expected_shape_after_conversion(name: str, file_shape: tuple[int, ...], want: tuple[int, ...]) -> bool:
    rule = key_maps.DIT_LAYOUT_CONVERSIONS.get(name)
    if rule == "conv3d_to_linear":
        return len(file_shape) == 5 and (file_shape[0], int(torch.tensor(file_shape[1:]).prod())) == want
    return False


def _convert_layout(name: str, tensor: Tensor, want: tuple[int, ...]) -> Tensor:
    if tuple(tensor.shape) == want:
        return tensor
    if key_maps.DIT_LAYOUT_CONVERSIONS.get(name) == "conv3d_to_linear":
        # Row-major flattening of [dim, in_dim, 1, 2, 2] is exactly the Linear's (c, i, j) input order.
        return tensor.reshape(want)
    raise AssertionError(f"no layout conversion for {name}")  # validated before, cannot happen


def _target_dtype(name: str, model_tensor: Tensor, dtype: torch.dtype | None) -> torch.dtype:
    if not model_tensor.is_floating_point():
        return model_tensor.dtype
    if name.endswith(key_maps.FP32_KEY_SUFFIXES):
        return torch.float32
    return dtype if dtype is not None else model_tensor.dtype


def compare_keys(
    reader: CheckpointReader,
    model: nn.Module,
    *,
    allow_missing: Callable[[str], bool] | None = None,
    allow_unexpected: Callable[[str], bool] | None = None,
) -> tuple[dict[str, str], KeyReport]:
    """Map file names to model names and report differences. Returns (model name -> file name, report).
    allow_missing / allow_unexpected: model / file names (after mapping) that may be absent / left unread."""
    expected = {n: tuple(t.shape) for n, t in model.state_dict().items()}
    mapping: dict[str, str] = {}
    report = KeyReport()
    for file_name in reader:
        name = _map_name(file_name)
        if name in key_maps.DIT_DROPPED_KEYS:
            continue
        if name not in expected:
            if not (allow_unexpected and allow_unexpected(name)):
                report.unexpected.append(file_name)
            continue
        if name in mapping:
            raise CheckpointError(
                f"{reader.name} holds {name!r} twice (as {mapping[name]!r} and {file_name!r})"
            )
        shape = reader.shape(file_name)
        want = expected[name]
        if shape != want and not _expected_shape_after_conversion(name, shape, want):
            report.mis_shaped.append(f"{name}: file {list(shape)} vs model {list(want)}")
        mapping[name] = file_name
    report.missing = [n for n in expected if n not in mapping and not (allow_missing and allow_missing(n))]
    return mapping, report


def materialise(
    model: nn.Module,
    reader: CheckpointReader,
    mapping: Mapping[str, str],
    *,
    dtype: torch.dtype | None,
    device: torch.device | str,
    init_missing: Callable[[str, Tensor], Tensor] | None = None,
) -> nn.Module:
    """Read every tensor, fix layout and dtype, and assign into ``model`` (built on meta)."""
    state = model.state_dict()
    loaded: dict[str, Tensor] = {}
    for name, model_tensor in state.items():
        target = _target_dtype(name, model_tensor, dtype)
        if name in mapping:
            tensor = _convert_layout(name, reader[mapping[name]], tuple(model_tensor.shape))
        elif init_missing is not None:
            tensor = init_missing(name, model_tensor)
        else:  # compare_keys already reported it
            raise AssertionError(f"{name} missing after validation")
        loaded[name] = tensor.to(device=device, dtype=target)
    model.load_state_dict(loaded, strict=True, assign=True)
    _check_nothing_on_meta(model)
    return model


def _check_nothing_on_meta(model: nn.Module) -> None:
    left = [n for n, t in (*model.named_parameters(), *model.named_buffers()) if t.is_meta]
    if left:
        raise CheckpointError(f"tensors left unloaded on the meta device: {', '.join(left[:SHOWN_PER_LIST])}")


# --------------------------------------------------------------------------------------------- DiT


def _dit_hint(reader: CheckpointReader, report: KeyReport, attention: AttentionConfig, quant: bool) -> str:
    from .wan.config import DIT_PRESETS

    names = list(reader)
    file_has_sla = any(key_maps.SLA_KEY_MARK in n for n in names)
    file_is_quant = any(n.endswith(key_maps.QUANT_KEY_MARK) for n in names)
    hints = []
    if file_has_sla and not attention.has_sla_weights:
        hints.append('This is a TurboWan SLA checkpoint: load it with attention="sla" or "sagesla".')
    if not file_has_sla and attention.has_sla_weights:
        hints.append(
            'This is a plain Wan checkpoint: load it with attention="sdpa", or pass init_missing="sla" to start '
            "SLA fine-tuning from zero-initialised proj_l."
        )
    if file_is_quant and not quant:
        hints.append("This checkpoint is W8A8-quantised (int8_weight/scale keys): pass quant=True (--quant).")
    if quant and not file_is_quant:
        hints.append(
            "This checkpoint is not quantised: drop quant=True, or convert it with `turbodiffusion quantize`."
        )
    guess = guess_dit_preset(reader)
    if guess is not None:
        hints.append(f"Its shapes match the preset {guess!r}.")
    elif report.mis_shaped:
        hints.append(f"Its shapes match none of the presets {sorted(DIT_PRESETS)}.")
    return "\n  ".join(hints)


def _layer_count(names: list[str]) -> int:
    return len({n.split(".")[1] for n in names if n.startswith("blocks.") and n.split(".")[1].isdigit()})


def guess_dit_preset(reader: CheckpointReader) -> str | None:
    """Name of the preset whose dim, in_dim and layer count match the file, or None."""
    from .wan.config import DIT_PRESETS

    names = [_map_name(n) for n in reader]
    by_mapped = dict(zip(names, reader))
    if "patch_embedding.weight" not in by_mapped:
        return None
    shape = reader.shape(by_mapped["patch_embedding.weight"])
    dim = shape[0]
    in_dim = shape[1] if len(shape) == 5 else shape[1] // 4
    layers = _layer_count(names)
    for name, cfg in DIT_PRESETS.items():
        if (cfg.dim, cfg.in_dim, cfg.num_layers) == (dim, in_dim, layers):
            return name
    return None


def dit_config_from_file(reader: CheckpointReader):
    """The WanDiTConfig stored in the file's metadata, else that of the preset its shapes match."""
    from .wan.config import DIT_PRESETS, WanDiTConfig

    if "config" in reader.metadata:
        try:
            return WanDiTConfig.from_official(json.loads(reader.metadata["config"]))
        except (json.JSONDecodeError, TypeError) as err:
            raise CheckpointError(f"{reader.name}: metadata 'config' is not valid JSON: {err}") from err
    guess = guess_dit_preset(reader)
    if guess is None:
        raise CheckpointError(
            f"{reader.name} stores no model config and its shapes match no preset; pass config= "
            f"(one of {sorted(DIT_PRESETS)} or a WanDiTConfig)"
        )
    return DIT_PRESETS[guess]


def load_dit(
    source: Source,
    config=None,
    *,
    attention: AttentionConfig | None = None,
    quant: bool = False,
    dtype: torch.dtype | None = torch.bfloat16,
    device: torch.device | str = "cpu",
    init_missing: Literal["sla"] | None = None,
    drop_unused: Literal["sla"] | None = None,
):
    """Load a Wan DiT (official Wan, TurboWan, TurboWan -quant, or our own safetensors).

    source: a file, shard list, index json or folder. config: a WanDiTConfig, a preset name, or None to
    read it from the file's metadata (else the preset whose shapes match). dtype: floating parameters are
    converted to it (None keeps the file's); W8A8 scales stay float32. init_missing="sla" zero-initialises
    SLA's proj_l when a plain Wan checkpoint is loaded for SLA fine-tuning; drop_unused="sla" leaves the
    file's proj_l unread when ``attention`` has no linear branch (an SLA checkpoint run densely).
    Raises CheckpointError on any mismatch (listing missing, unexpected and mis-shaped keys with a hint).
    """
    from .wan.config import WanDiTConfig, dit_preset
    from .wan.dit import WanDiT

    attention = attention or AttentionConfig()
    if init_missing not in (None, "sla"):
        raise ValueError(f'init_missing must be None or "sla" (got {init_missing!r})')
    if drop_unused not in (None, "sla"):
        raise ValueError(f'drop_unused must be None or "sla" (got {drop_unused!r})')
    reader = CheckpointReader(source)
    if config is None:
        config = dit_config_from_file(reader)
    elif isinstance(config, str):
        config = dit_preset(config)
    elif not isinstance(config, WanDiTConfig):
        raise TypeError(f"config must be a WanDiTConfig, a preset name or None (got {type(config).__name__})")
    with on_meta():
        model = WanDiT(config, attention)
    if quant:
        from ..quant import Int8Config, quantize_

        quantize_(model, Int8Config())
    allow = (lambda n: key_maps.SLA_KEY_MARK in f".{n}") if init_missing == "sla" else None
    unused = (lambda n: key_maps.SLA_KEY_MARK in f".{n}") if drop_unused == "sla" else None
    mapping, report = compare_keys(reader, model, allow_missing=allow, allow_unexpected=unused)
    if report:
        raise CheckpointError(
            f"{reader.name} does not match WanDiT(attention={attention.backend!r}, quant={quant}):\n"
            f"{report.describe()}\n  {_dit_hint(reader, report, attention, quant)}"
        )

    def zeros(name: str, like: Tensor) -> Tensor:
        return torch.zeros(like.shape, dtype=like.dtype)  # SLA's proj_l starts at zero (attention.md §2.4)

    model = materialise(
        model, reader, mapping, dtype=dtype, device=device, init_missing=zeros if allow else None
    )
    logger.info("loaded %s (%d tensors) into WanDiT %s", reader.name, len(mapping), _describe(config))
    return model.eval()


def _describe(config) -> str:
    return f"dim={config.dim} layers={config.num_layers} heads={config.num_heads} in_dim={config.in_dim}"


# --------------------------------------------------------------------------------------- VAE, umT5


def _load_plain(source: Source, build: Callable[[], nn.Module], what: str, *, dtype, device) -> nn.Module:
    reader = CheckpointReader(source)
    with on_meta():
        model = build()
    mapping, report = compare_keys(reader, model)
    if report:
        raise CheckpointError(f"{reader.name} does not match {what}:\n{report.describe()}")
    model = materialise(model, reader, mapping, dtype=dtype, device=device)
    logger.info("loaded %s (%d tensors) into %s", reader.name, len(mapping), what)
    return model.eval()


def load_vae(source: Source, config=None, *, dtype: torch.dtype | None = torch.bfloat16, device="cpu"):
    """Load the Wan2.1 VAE (``Wan2.1_VAE.pth`` or a safetensors with the same names)."""
    from .wan.vae import WAN21_VAE, WanVAE

    config = config or WAN21_VAE
    return _load_plain(
        source,
        lambda: WanVAE(config),
        f"WanVAE(dim={config.dim}, z_dim={config.z_dim})",
        dtype=dtype,
        device=device,
    )


def load_umt5(source: Source, config=None, *, dtype: torch.dtype | None = torch.bfloat16, device="cpu"):
    """Load the umT5 encoder (``models_t5_umt5-xxl-enc-bf16.pth`` or a safetensors with the same names)."""
    from .umt5 import UMT5_XXL, UMT5Encoder

    config = config or UMT5_XXL
    return _load_plain(
        source,
        lambda: UMT5Encoder(config),
        f"UMT5Encoder(dim={config.dim}, layers={config.num_layers})",
        dtype=dtype,
        device=device,
    )


def save_dit(
    model: nn.Module, path: str | os.PathLike, *, extra_metadata: Mapping[str, str] | None = None
) -> None:
    """Save a WanDiT's state dict as safetensors with its config in the metadata (atomic write)."""
    metadata = {"config": json.dumps(model.config.to_dict()), "format": "turbodiffusion-wan-dit"}
    metadata.update(extra_metadata or {})
    save_safetensors(model.state_dict(), path, metadata)


__all__ = [
    "CheckpointReader",
    "KeyReport",
    "compare_keys",
    "dit_config_from_file",
    "guess_dit_preset",
    "load_dit",
    "load_umt5",
    "load_vae",
    "materialise",
    "save_dit",
    "save_safetensors",
]
