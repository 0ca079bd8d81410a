"""Named model presets: which files a model needs, where the hub keeps them, and how it samples.

Data only (frozen dataclasses in one table); file names follow shared/docs/models.md §7. A preset is
chosen by its exact name or recognised from the files in a folder (checkpoints.py), never guessed from a
file name's substrings.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from ..attention.config import BACKEND_NAMES
from ..default_model.config import (
    CARD_FILE,
    CONFIG_FILE,
    DEFAULT_VIDEO,
    STUDENT_FILE,
    TEACHER_FILE,
    VAE_FILE,
)
from ..sampling.schedules import SIGMA_MAX_I2V, SIGMA_MAX_T2V

Task = Literal["t2v", "i2v"]

# Files shared by every Wan2.1 / Wan2.2 A14B model (models.md §7): the Wan2.1 VAE, the umT5-XXL encoder
# and its tokenizer folder, all from the official Wan-AI repos.
WAN_VAE_FILE = "Wan2.1_VAE.pth"
WAN_UMT5_FILE = "models_t5_umt5-xxl-enc-bf16.pth"
WAN_TOKENIZER_DIR = "google/umt5-xxl"
# Where TurboWan presets fetch those three from: the smallest official repo that holds them.
WAN_SHARED_REPO = "Wan-AI/Wan2.1-T2V-1.3B"
WAN_DIT_FILE = "diffusion_pytorch_model.safetensors"
WAN_DIT_INDEX = "diffusion_pytorch_model.safetensors.index.json"
# Wan2.2's expert switch: the high-noise expert runs while the RF time is >= 0.9 (models.md §4).
WAN22_BOUNDARY = 0.9
WAN_FPS = 16
WAN_FRAMES = 81

# Resolution names -> (width, height), 16:9 (models.md §8).
RESOLUTIONS: dict[str, tuple[int, int]] = {"480p": (832, 480), "720p": (1280, 720)}


@dataclass(frozen=True)
class HubFiles:
    """Files ``turbodiffusion download`` fetches from one Hugging Face repo into the checkpoint folder."""

    repo: str  # repo id, e.g. "Wan-AI/Wan2.1-T2V-1.3B"
    patterns: tuple[str, ...]  # paths or globs inside the repo (huggingface_hub allow_patterns)

    def __post_init__(self) -> None:
        if "/" not in self.repo or not self.patterns:
            raise ValueError(f"HubFiles needs an 'owner/name' repo and at least one pattern (got {self!r})")


@dataclass(frozen=True)
class SamplingDefaults:
    """What a pipeline call uses for the sampling arguments it is not given.

    Wan and TurboWan presets use the class defaults (Wan's); the default model's come from its folder's
    config.json (``components.sampling_defaults``), e.g. the teacher's unipc steps, guidance and shift.
    """

    sampler: Literal["rcm", "unipc", "euler"] = "rcm"
    baseline_steps: int | None = None  # steps of unipc / euler; None: Wan's 50 (rCM always defaults to 4)
    shift: float = 5.0  # flow shift of unipc / euler
    guidance: float = 5.0  # classifier-free guidance scale of unipc / euler
    negative_prompt: str | None = None  # None: Wan's negative prompt (sampling.unipc.WAN_NEGATIVE_PROMPT)


@dataclass(frozen=True)
class ModelPreset:
    """One released model as TurboDiffusion runs it. Paths are relative to the checkpoint folder."""

    name: str  # the exact name users pass (--model NAME)
    task: Task  # "t2v": prompt only; "i2v": prompt + image
    # architecture: a key of models.wan.config.DIT_PRESETS; "builtin" (random, built in memory); or
    # "default" (the trained default model: architecture from its folder's config.json, default_model/)
    dit: str
    experts: tuple[str, ...]  # DiT checkpoint per expert; two = Wan2.2 (high-noise expert first)
    sla: bool = False  # the DiT files hold SLA's proj_l (TurboWan): attention must be "sla" or "sagesla"
    quant: bool = False  # the DiT files hold W8A8 int8 weights (the -quant TurboWan files)
    attention: str = "sdpa"  # default attention backend
    sigma_max: float = SIGMA_MAX_T2V  # rCM's first-step EDM sigma (80 T2V, 200 I2V)
    resolution: str = "480p"  # default size: a key of RESOLUTIONS or "WxH"
    num_frames: int = WAN_FRAMES  # default frame count (4k + 1)
    fps: int = WAN_FPS
    boundary: float | None = None  # expert switch RF time (two-expert models only)
    vae: str = WAN_VAE_FILE
    umt5: str = WAN_UMT5_FILE  # "" for the default model: its text encoder (MiniLM) ships in a package
    tokenizer: str = WAN_TOKENIZER_DIR  # folder holding tokenizer.json ("" for the default model)
    hub: tuple[HubFiles, ...] = ()  # what `turbodiffusion download NAME` fetches; empty = nothing to fetch
    distilled: bool = True  # rCM-distilled (1-4 steps); False: the original 50-step model
    note: str = ""  # one line for `--help` and listings

    def __post_init__(self) -> None:
        if self.task not in ("t2v", "i2v"):
            raise ValueError(f'task must be "t2v" or "i2v" (got {self.task!r})')
        if len(self.experts) not in (1, 2):
            raise ValueError(f"a preset has one DiT or two experts (got {len(self.experts)}: {self.experts})")
        if (len(self.experts) == 2) != (self.boundary is not None):
            raise ValueError(
                f"preset {self.name!r}: a boundary is needed exactly when there are two experts "
                f"(got {len(self.experts)} experts, boundary={self.boundary})"
            )
        if self.attention not in BACKEND_NAMES:
            raise ValueError(
                f"unknown attention backend {self.attention!r}; use one of {', '.join(BACKEND_NAMES)}"
            )
        if self.sla and self.attention not in ("sla", "sagesla"):
            raise ValueError(
                f"preset {self.name!r} holds SLA weights, so its attention must be sla or sagesla"
            )
        if self.num_frames < 1 or (self.num_frames - 1) % 4:
            raise ValueError(f"num_frames must be 4k+1 (got {self.num_frames})")

    @property
    def files(self) -> tuple[str, ...]:
        """Every path the preset needs in its folder (the tokenizer as a folder)."""
        if self.dit == "builtin":
            return ()
        if self.dit == "default":
            return (CONFIG_FILE, *self.experts, self.vae, CARD_FILE)
        return (*self.experts, self.vae, self.umt5, self.tokenizer)


def _wan_hub(repo: str, dit_patterns: tuple[str, ...]) -> tuple[HubFiles, ...]:
    return (HubFiles(repo, (*dit_patterns, WAN_VAE_FILE, WAN_UMT5_FILE, f"{WAN_TOKENIZER_DIR}/*")),)


def _shared_hub() -> HubFiles:
    return HubFiles(WAN_SHARED_REPO, (WAN_VAE_FILE, WAN_UMT5_FILE, f"{WAN_TOKENIZER_DIR}/*"))


def _turbowan(name: str, repo: str, stem: str, dit: str, resolution: str, quant: bool) -> ModelPreset:
    suffix = "-quant" if quant else ""
    experts = (f"{stem}{suffix}.pth",)
    return ModelPreset(
        name=name,
        task="t2v",
        dit=dit,
        experts=experts,
        sla=True,
        quant=quant,
        attention="sagesla",
        resolution=resolution,
        hub=(HubFiles(repo, experts), _shared_hub()),
        note=f"TurboWan rCM + SLA{' + W8A8' if quant else ''}, trained at {resolution}",
    )


def _turbowan_i2v(quant: bool) -> ModelPreset:
    suffix = "-quant" if quant else ""
    experts = tuple(f"TurboWan2.2-I2V-A14B-{e}-720P{suffix}.pth" for e in ("high", "low"))
    return ModelPreset(
        name=f"turbowan2.2-i2v-a14b-720p{suffix}",
        task="i2v",
        dit="wan2.2-i2v-a14b",
        experts=experts,
        sla=True,
        quant=quant,
        attention="sagesla",
        sigma_max=SIGMA_MAX_I2V,
        resolution="720p",
        boundary=WAN22_BOUNDARY,
        hub=(HubFiles("TurboDiffusion/TurboWan2.2-I2V-A14B-720P", experts), _shared_hub()),
        note=f"TurboWan2.2 I2V A14B rCM + SLA{' + W8A8' if quant else ''}, two experts",
    )


BUILTIN = ModelPreset(
    name="builtin-random",
    task="t2v",
    dit="builtin",
    experts=("builtin",),
    resolution="256x144",
    num_frames=17,
    note="tiny RANDOM-weight model built in memory: a smoke test that produces noise, not a trained model",
)

_DEFAULT_SIZE = f"{DEFAULT_VIDEO.width}x{DEFAULT_VIDEO.height}"
# The trained default model (turbodiffusion/assets/default, or any folder write_default_model wrote):
# a small Wan DiT + Wan VAE trained on the synthetic world, text from all-MiniLM-L6-v2.
BUILTIN_STUDENT = ModelPreset(
    name="builtin",
    task="t2v",
    dit="default",
    experts=(STUDENT_FILE,),
    sla=True,
    # "sla" runs everywhere; on a GPU the loader picks "sagesla" when it can run (components.py).
    attention="sla",
    resolution=_DEFAULT_SIZE,
    num_frames=DEFAULT_VIDEO.num_frames,
    fps=DEFAULT_VIDEO.fps,
    vae=VAE_FILE,
    umt5="",
    tokenizer="",
    note="the default model: small Wan DiT trained on the synthetic world, rCM 4-step student + SLA",
)
BUILTIN_TEACHER = ModelPreset(
    name="builtin-teacher",
    task="t2v",
    dit="default",
    experts=(TEACHER_FILE,),
    distilled=False,
    resolution=_DEFAULT_SIZE,
    num_frames=DEFAULT_VIDEO.num_frames,
    fps=DEFAULT_VIDEO.fps,
    vae=VAE_FILE,
    umt5="",
    tokenizer="",
    note="the default model's flow-matching teacher (many-step unipc with guidance; slow, for comparison)",
)

WAN21_T2V_1_3B = ModelPreset(
    name="wan2.1-t2v-1.3b",
    task="t2v",
    dit="wan2.1-t2v-1.3b",
    experts=(WAN_DIT_FILE,),
    distilled=False,
    hub=_wan_hub("Wan-AI/Wan2.1-T2V-1.3B", (WAN_DIT_FILE, "config.json")),
    note="official Wan2.1 T2V 1.3B (50-step teacher; few-step rCM sampling needs a TurboWan preset)",
)
WAN21_T2V_14B = ModelPreset(
    name="wan2.1-t2v-14b",
    task="t2v",
    dit="wan2.1-t2v-14b",
    experts=(WAN_DIT_INDEX,),
    distilled=False,
    hub=_wan_hub("Wan-AI/Wan2.1-T2V-14B", ("diffusion_pytorch_model*.safetensors*", "config.json")),
    note="official Wan2.1 T2V 14B (sharded safetensors)",
)
WAN22_I2V_A14B = ModelPreset(
    name="wan2.2-i2v-a14b",
    task="i2v",
    dit="wan2.2-i2v-a14b",
    experts=(f"high_noise_model/{WAN_DIT_INDEX}", f"low_noise_model/{WAN_DIT_INDEX}"),
    sigma_max=SIGMA_MAX_I2V,
    resolution="720p",
    boundary=WAN22_BOUNDARY,
    distilled=False,
    hub=_wan_hub("Wan-AI/Wan2.2-I2V-A14B", ("high_noise_model/*", "low_noise_model/*")),
    note="official Wan2.2 I2V A14B, high- and low-noise experts",
)

PRESETS: dict[str, ModelPreset] = {
    p.name: p
    for p in (
        BUILTIN_STUDENT,
        BUILTIN_TEACHER,
        BUILTIN,
        WAN21_T2V_1_3B,
        WAN21_T2V_14B,
        WAN22_I2V_A14B,
        *(
            _turbowan(f"turbowan2.1-t2v-{size}-{res}{'-quant' if q else ''}", repo, stem, dit, res, q)
            for size, res, repo, stem, dit in (
                (
                    "1.3b",
                    "480p",
                    "TurboDiffusion/TurboWan2.1-T2V-1.3B-480P",
                    "TurboWan2.1-T2V-1.3B-480P",
                    "wan2.1-t2v-1.3b",
                ),
                (
                    "14b",
                    "480p",
                    "TurboDiffusion/TurboWan2.1-T2V-14B-480P",
                    "TurboWan2.1-T2V-14B-480P",
                    "wan2.1-t2v-14b",
                ),
                (
                    "14b",
                    "720p",
                    "TurboDiffusion/TurboWan2.1-T2V-14B-720P",
                    "TurboWan2.1-T2V-14B-720P",
                    "wan2.1-t2v-14b",
                ),
            )
            for q in (False, True)
        ),
        _turbowan_i2v(False),
        _turbowan_i2v(True),
    )
}
DEFAULT_PRESET = BUILTIN_STUDENT.name
# What runs when this install holds no trained default model (its weights are made by
# turbodiffusion.default_model.train and shipped in turbodiffusion/assets/default).
FALLBACK_PRESET = "builtin-random"


def installed_default_preset() -> str:
    """DEFAULT_PRESET when the package holds the trained default model's folder, else FALLBACK_PRESET (whose
    random weights log a WARNING when loaded), so the first command works on every install."""
    from ..default_model.config import shipped_dir
    from ..default_model.files import is_default_model_folder

    return DEFAULT_PRESET if is_default_model_folder(shipped_dir()) else FALLBACK_PRESET


def get_preset(name: str) -> ModelPreset:
    """The preset called exactly ``name``; ValueError listing every known name otherwise."""
    if name not in PRESETS:
        raise ValueError(f"unknown model preset {name!r}; known presets: {', '.join(PRESETS)}")
    return PRESETS[name]


def parse_resolution(value: str) -> tuple[int, int]:
    """ "480p" / "720p" (16:9) or "WxH" -> (width, height). Sizes are checked later with the frame count."""
    if value in RESOLUTIONS:
        return RESOLUTIONS[value]
    parts = value.lower().split("x")
    if len(parts) == 2 and all(p.isdigit() and int(p) > 0 for p in parts):
        return int(parts[0]), int(parts[1])
    raise ValueError(
        f"resolution must be {' or '.join(RESOLUTIONS)} or WIDTHxHEIGHT such as 832x480 (got {value!r})"
    )
