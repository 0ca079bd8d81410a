"""Training configuration: frozen dataclasses, loadable from TOML or YAML, every field documented.

A config file has one table per dataclass below (``[data]``, ``[model]``, ``[optim]``, ``[run]``,
and ``[flow]``, ``[sla]`` or ``[rcm]`` for the chosen kind); unknown keys are rejected by name.
Example (TOML):

    kind = "rcm"
    [data]
    cache_dir = "cache/"
    batch_size = 1
    [model]
    checkpoint = "Wan2.1-T2V-1.3B/diffusion_pytorch_model.safetensors"
    [run]
    output_dir = "runs/rcm-1.3b"
    max_steps = 1000
"""

from __future__ import annotations

import dataclasses
import os
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

from ..errors import require
from .rcm import RCMLossConfig

Kind = Literal["flow", "sla", "rcm"]
KINDS: tuple[str, ...] = ("flow", "sla", "rcm")
DTYPES: tuple[str, ...] = ("float32", "bfloat16")


@dataclass(frozen=True)
class DataConfig:
    cache_dir: str = ""  # latent cache folder built by training.cache.build_cache (index.json inside)
    batch_size: int = 1  # samples per step per rank (per sequence-parallel group of run.sequence_parallel)
    seed: int = 0  # seed of the per-epoch sample permutation

    def __post_init__(self) -> None:
        if not self.cache_dir:
            raise ValueError("data.cache_dir is required: the folder of a latent cache (build_cache)")
        if self.batch_size < 1:
            raise ValueError(f"data.batch_size must be >= 1 (got {self.batch_size})")


@dataclass(frozen=True)
class ModelConfig:
    checkpoint: str | None = None  # pretrained Wan DiT file/folder; None = random init from `preset`/`dit`
    preset: str | None = None  # WanDiTConfig preset name (e.g. "wan2.1-t2v-1.3b"), or None
    dit: dict[str, Any] | None = None  # explicit WanDiTConfig fields (tiny models, new sizes)
    dtype: str = "float32"  # stored parameter dtype: fp32 master weights (recommended) or bfloat16
    init_seed: int = 0  # seed of the random init when there is no checkpoint

    def __post_init__(self) -> None:
        given = [n for n in ("preset", "dit") if getattr(self, n) is not None]
        if len(given) > 1:
            raise ValueError("model.preset and model.dit are exclusive; give one (or a checkpoint)")
        if self.checkpoint is None and not given:
            raise ValueError("model needs a checkpoint, a preset or a dit table; got none of them")
        if self.dtype not in DTYPES:
            raise ValueError(f"model.dtype must be one of {', '.join(DTYPES)} (got {self.dtype!r})")

    def dit_config(self):
        """The WanDiTConfig this section names (None: read it from the checkpoint)."""
        from ..models.wan.config import WanDiTConfig, dit_preset

        if self.dit is not None:
            return WanDiTConfig(**{k: tuple(v) if isinstance(v, list) else v for k, v in self.dit.items()})
        return dit_preset(self.preset) if self.preset is not None else None


@dataclass(frozen=True)
class OptimConfig:
    lr: float = 1e-5  # AdamW learning rate (SLA recipe 1e-5; rCM student 2e-6 for 1.3B)
    betas: tuple[float, float] = (0.9, 0.999)  # AdamW betas; rCM uses (0.0, 0.999)
    weight_decay: float = 0.01
    eps: float = 1e-8
    warmup_steps: int = 100  # linear LR warm-up from 1e-6 x lr, then constant (§4)

    def __post_init__(self) -> None:
        if self.lr <= 0:
            raise ValueError(f"optim.lr must be positive (got {self.lr})")
        if len(self.betas) != 2 or not all(0.0 <= b < 1.0 for b in self.betas):
            raise ValueError(f"optim.betas must be two numbers in [0, 1) (got {self.betas})")
        if self.warmup_steps < 0:
            raise ValueError(f"optim.warmup_steps must be >= 0 (got {self.warmup_steps})")


@dataclass(frozen=True)
class FlowConfig:
    p_mean: float = 0.0  # log σ ~ N(p_mean, p_std²) training-time distribution (our choice, see flow.py)
    p_std: float = 1.0


@dataclass(frozen=True)
class SLAConfig:
    topk: float = 0.1  # fraction of key blocks each query block keeps (§5)
    p_mean: float = 1.5  # log σ ~ N(1.5, 1.6²) (§5)
    p_std: float = 1.6


@dataclass(frozen=True)
class RCMConfig:
    loss: RCMLossConfig = field(default_factory=RCMLossConfig)  # sCM/DMD knobs (rcm.RCMLossConfig)
    fake_lr: float = 4e-7  # fake-score AdamW lr (1.3B: 4e-7, 14B: 1e-7), same betas/wd as optim
    critic_freq: int = 5  # after warm-up: 1 student update then critic_freq - 1 fake-score updates

    def __post_init__(self) -> None:
        if self.critic_freq < 1:
            raise ValueError(
                f"rcm.critic_freq must be >= 1 (got {self.critic_freq}); the recipe uses 5 or 10"
            )


@dataclass(frozen=True)
class RunConfig:
    output_dir: str = "runs/train"  # checkpoints/, log.jsonl, final.safetensors, tensorboard/ go here
    max_steps: int = 1000  # total optimizer steps (a resumed run continues up to this)
    checkpoint_every: int = 500  # DCP checkpoint period in steps (and always at the end)
    log_every: int = 1  # JSONL/TensorBoard period in steps
    seed: int = 0  # base seed of the per-step noise generators (seed, step, rank)
    mixed_precision: bool = False  # bf16 compute, fp32 gradient reduction: FSDP2 policy, so > 1 rank only
    activation_checkpointing: bool = False  # block-wise recompute in backward
    progress: bool = True  # tqdm bar on stderr (rank 0)
    ema_sigma_rel: float = 0.1  # EDM2 power-EMA width of the exported student (γ ≈ 6.94 at 0.1)
    # Ulysses sequence-parallel group size P (§7): ranks form a (world / P) data-parallel x P mesh; each
    # group of P ranks shares one batch (same samples, times and noise) and splits its tokens. P must
    # divide the number of ranks, the model's num_heads and the latent token count. 1 = off.
    sequence_parallel: int = 1

    def __post_init__(self) -> None:
        for name in ("max_steps", "checkpoint_every", "log_every", "sequence_parallel"):
            if getattr(self, name) < 1:
                raise ValueError(f"run.{name} must be >= 1 (got {getattr(self, name)})")
        if not 0.0 < self.ema_sigma_rel <= 12**-0.5:
            raise ValueError(
                f"run.ema_sigma_rel must be in (0, 0.2887] (got {self.ema_sigma_rel}); the recipe uses 0.1"
            )


@dataclass(frozen=True)
class TrainConfig:
    kind: Kind  # "flow" (plain flow matching), "sla" (SLA fine-tuning), "rcm" (rCM distillation)
    data: DataConfig
    model: ModelConfig
    optim: OptimConfig = field(default_factory=OptimConfig)
    run: RunConfig = field(default_factory=RunConfig)
    flow: FlowConfig = field(default_factory=FlowConfig)
    sla: SLAConfig = field(default_factory=SLAConfig)
    rcm: RCMConfig = field(default_factory=RCMConfig)

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)} (got {self.kind!r})")


def _build(cls, data: Any, where: str):
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be a table of {cls.__name__} fields (got {type(data).__name__})")
    fields = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(data) - set(fields))
    if unknown:
        raise ValueError(f"unknown key(s) in {where}: {', '.join(unknown)}; accepted: {', '.join(fields)}")
    kwargs = {}
    for name, value in data.items():
        sub = _NESTED.get((cls, name))
        if sub is not None:
            kwargs[name] = _build(sub, value, f"{where}.{name}" if where else name)
        elif isinstance(value, list) and name != "dit":
            kwargs[name] = tuple(value)
        else:
            kwargs[name] = value
    return cls(**kwargs)


_NESTED = {
    (TrainConfig, "data"): DataConfig,
    (TrainConfig, "model"): ModelConfig,
    (TrainConfig, "optim"): OptimConfig,
    (TrainConfig, "run"): RunConfig,
    (TrainConfig, "flow"): FlowConfig,
    (TrainConfig, "sla"): SLAConfig,
    (TrainConfig, "rcm"): RCMConfig,
    (RCMConfig, "loss"): RCMLossConfig,
}


def config_from_dict(data: dict[str, Any]) -> TrainConfig:
    """Build a TrainConfig from nested dicts (as parsed from TOML/YAML); unknown keys raise ValueError."""
    return _build(TrainConfig, data, "")


def load_config(path: str | os.PathLike, *, kind: str | None = None) -> TrainConfig:
    """Read a ``.toml``, ``.yaml`` or ``.yml`` training config; ``kind`` (from the CLI) overrides the file's.

    Raises ValueError on another suffix, or when the file's kind and ``kind`` disagree.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix == ".toml":
        # tomllib is standard from Python 3.11; 3.10 needs the tomli backport.
        if sys.version_info >= (3, 11):
            import tomllib
        else:
            tomllib = require("tomli", "train", "reading TOML training configs on Python 3.10")
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    elif suffix in (".yaml", ".yml"):
        yaml = require("yaml", "train", "reading YAML training configs")
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    else:
        raise ValueError(f"training config must be .toml, .yaml or .yml (got {path.name})")
    if kind is not None:
        if data.get("kind", kind) != kind:
            raise ValueError(f"{path.name} is a {data['kind']!r} config but the command asked for {kind!r}")
        data = {**data, "kind": kind}
    return config_from_dict(data)


__all__ = [
    "DataConfig",
    "FlowConfig",
    "ModelConfig",
    "OptimConfig",
    "RCMConfig",
    "RunConfig",
    "SLAConfig",
    "TrainConfig",
    "config_from_dict",
    "load_config",
]
