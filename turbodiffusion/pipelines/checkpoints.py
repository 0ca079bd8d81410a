"""Checkpoint folders on disk: find a preset's files, recognise a folder's preset, fetch from the hub.

A checkpoint folder holds a preset's files under their official names (models.md §7), e.g. for
``turbowan2.1-t2v-1.3b-480p``::

    TurboWan2.1-T2V-1.3B-480P.pth
    Wan2.1_VAE.pth
    models_t5_umt5-xxl-enc-bf16.pth
    google/umt5-xxl/tokenizer.json

which is what ``turbodiffusion download PRESET --dir DIR`` leaves there. Every missing file is named
together with that command.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

from ..errors import require
from .presets import PRESETS, ModelPreset, get_preset

logger = logging.getLogger(__name__)

TOKENIZER_FILE = "tokenizer.json"
DEFAULT_ROOT = Path("checkpoints")  # default parent folder: ./checkpoints/<preset name>


def default_checkpoint_dir(preset: ModelPreset) -> Path:
    """Where a preset's files go when no folder is given: ``./checkpoints/<preset name>``."""
    return DEFAULT_ROOT / preset.name


@dataclass(frozen=True)
class CheckpointFiles:
    """Resolved paths of one preset's files in one folder."""

    preset: ModelPreset
    folder: Path
    experts: tuple[Path, ...]  # one DiT source per expert (file or safetensors index)
    vae: Path
    umt5: Path
    tokenizer: Path  # folder holding tokenizer.json
    dit_config: Path | None  # official config.json beside the (first) DiT, when present


def download_command(preset: ModelPreset, folder: str | os.PathLike) -> str:
    return f"turbodiffusion download {preset.name} --dir {folder}"


def missing_files(preset: ModelPreset, folder: str | os.PathLike) -> list[str]:
    """The preset's paths absent from ``folder`` (the tokenizer counts as present with its tokenizer.json)."""
    folder = Path(folder)
    missing = []
    for rel in preset.files:
        ok = (
            (folder / rel / TOKENIZER_FILE).is_file() if rel == preset.tokenizer else (folder / rel).is_file()
        )
        if not ok:
            missing.append(f"{rel}/{TOKENIZER_FILE}" if rel == preset.tokenizer else rel)
    return missing


def resolve_files(preset: ModelPreset, folder: str | os.PathLike) -> CheckpointFiles:
    """Paths of every file ``preset`` needs in ``folder``.

    Raises FileNotFoundError naming each missing file and the command that fetches them.
    """
    folder = Path(folder)
    if preset.dit == "builtin":
        raise ValueError(f"preset {preset.name!r} is built in memory and has no files")
    if not folder.is_dir():
        raise FileNotFoundError(
            f"checkpoint folder {folder} does not exist; fetch {preset.name} with `{download_command(preset, folder)}`"
        )
    missing = missing_files(preset, folder)
    if missing:
        raise FileNotFoundError(
            f"{folder} lacks {len(missing)} file(s) of {preset.name}: {', '.join(missing)}; "
            f"fetch them with `{download_command(preset, folder)}`"
        )
    experts = tuple(folder / e for e in preset.experts)
    config = experts[0].parent / "config.json"
    return CheckpointFiles(
        preset=preset,
        folder=folder,
        experts=experts,
        vae=folder / preset.vae,
        umt5=folder / preset.umt5,
        tokenizer=folder / preset.tokenizer,
        dit_config=config if config.is_file() else None,
    )


def recognise_folder(folder: str | os.PathLike, *, quant: bool | None = None) -> ModelPreset:
    """The preset whose DiT files are in ``folder`` (official Wan or TurboWan layout).

    ``quant`` narrows the choice when a folder holds both a TurboWan file and its -quant twin.
    Raises FileNotFoundError when no preset's DiT files are there, ValueError when several are.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"checkpoint folder {folder} does not exist")
    found = [
        p for p in PRESETS.values() if p.dit != "builtin" and all((folder / e).is_file() for e in p.experts)
    ]
    if quant is not None and any(p.quant == quant for p in found):
        found = [p for p in found if p.quant == quant]
    if not found:
        expected = "; ".join(
            f"{p.name}: {', '.join(p.experts)}" for p in PRESETS.values() if p.dit != "builtin"
        )
        raise FileNotFoundError(
            f"{folder} holds no known model layout. Expected the DiT files of one preset ({expected}). "
            f"Fetch one with `turbodiffusion download PRESET --dir {folder}`"
        )
    if len(found) > 1:
        names = ", ".join(p.name for p in found)
        raise ValueError(
            f"{folder} holds the files of several presets ({names}); name the one to use "
            f"(--model NAME --checkpoint-dir {folder}, or from_pretrained(NAME, checkpoint_dir=...))"
        )
    logger.info("recognised %s as preset %s", folder, found[0].name)
    return found[0]


def download(preset: ModelPreset | str, folder: str | os.PathLike | None = None) -> Path:
    """Fetch every file of ``preset`` from the Hugging Face hub into ``folder`` and return the folder.

    Uses ``huggingface_hub.snapshot_download`` per repo with the preset's file patterns (files already
    there are not fetched again). Raises MissingDependencyError without the "hub" extra, ValueError for
    the built-in preset, and FileNotFoundError if files are still missing afterwards.
    """
    preset = get_preset(preset) if isinstance(preset, str) else preset
    if not preset.hub:
        raise ValueError(f"preset {preset.name!r} is built in memory: there is nothing to download")
    hub = require("huggingface_hub", "hub", "downloading checkpoints")
    folder = Path(folder) if folder is not None else default_checkpoint_dir(preset)
    folder.mkdir(parents=True, exist_ok=True)
    for source in preset.hub:
        logger.info("fetching %s from %s into %s", ", ".join(source.patterns), source.repo, folder)
        hub.snapshot_download(
            repo_id=source.repo, allow_patterns=list(source.patterns), local_dir=str(folder)
        )
    missing = missing_files(preset, folder)
    if missing:
        raise FileNotFoundError(
            f"after downloading {preset.name}, {folder} still lacks: {', '.join(missing)}; "
            "check the repo names and your access to them on the hub"
        )
    return folder
