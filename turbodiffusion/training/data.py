"""Training data: (video, caption) sources, and a deterministic, resumable sample order.

Three raw sources, each yielding ``VideoCaption`` records (the video is a path or the mp4 bytes):
- a folder of ``name.mp4`` + ``name.txt`` pairs (``scan_folder``);
- a JSON-lines manifest, one ``{"video": path, "caption": text}`` per line (``read_manifest``);
- webdataset-style tar shards, members ``key.mp4`` + ``key.txt`` (``iter_tar_shards``, standard-library
  ``tarfile``; nothing is unpacked to disk).
Raw videos are encoded once by ``training.cache`` into latent shards; training reads only those.

``ResumableSampler`` gives every rank its slice of a seeded permutation per epoch; its whole state is
two integers (epoch, position), stored in the training checkpoint, so a resumed run sees exactly the
samples the killed run would have seen next.
"""

from __future__ import annotations

import json
import os
import tarfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import torch

VIDEO_SUFFIX = ".mp4"
CAPTION_SUFFIX = ".txt"


@dataclass(frozen=True)
class VideoCaption:
    """One raw training pair. ``video`` is a file path, or the mp4 bytes when read from a tar shard."""

    key: str  # unique name of the sample (file stem, or the tar member key)
    video: Path | bytes
    caption: str


def scan_folder(root: str | os.PathLike) -> list[VideoCaption]:
    """Every ``*.mp4`` under ``root`` (sorted, recursive) with its same-stem ``.txt`` caption.

    Raises FileNotFoundError when ``root`` is missing and ValueError naming the first video without
    a caption (or a folder with no videos).
    """
    root = Path(root)
    if not root.is_dir():
        raise FileNotFoundError(f"data folder {root} does not exist")
    items = []
    for video in sorted(root.rglob(f"*{VIDEO_SUFFIX}")):
        caption = video.with_suffix(CAPTION_SUFFIX)
        if not caption.is_file():
            raise ValueError(f"{video} has no caption: expected {caption.name} beside it")
        key = str(video.relative_to(root).with_suffix(""))
        items.append(VideoCaption(key, video, caption.read_text(encoding="utf-8").strip()))
    if not items:
        raise ValueError(f"{root} holds no {VIDEO_SUFFIX} files; expected name.mp4 + name.txt pairs")
    return items


def read_manifest(path: str | os.PathLike) -> list[VideoCaption]:
    """Records of a JSON-lines manifest: ``{"video": path, "caption": text}`` per line.

    Relative video paths are resolved against the manifest's folder. Raises ValueError naming the line
    of a malformed record.
    """
    path = Path(path)
    items = []
    for lineno, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            rec = json.loads(line)
        except json.JSONDecodeError as err:
            raise ValueError(f"{path}:{lineno} is not valid JSON: {err}") from err
        if (
            not isinstance(rec, dict)
            or not isinstance(rec.get("video"), str)
            or not isinstance(rec.get("caption"), str)
        ):
            raise ValueError(
                f'{path}:{lineno} must be {{"video": str, "caption": str}} (got {line.strip()[:80]})'
            )
        video = Path(rec["video"])
        video = video if video.is_absolute() else path.parent / video
        items.append(VideoCaption(rec.get("key", f"{lineno:08d}"), video, rec["caption"]))
    return items


def iter_tar_shards(paths: list[str | os.PathLike]) -> Iterator[VideoCaption]:
    """Pairs from webdataset-style tar shards, in shard then member order.

    Members are grouped by key (the name before the first dot of the base name); a key needs one
    ``.mp4`` and one ``.txt``. Raises ValueError naming a key that lacks either.
    """
    for shard in paths:
        groups: dict[str, dict[str, bytes]] = {}
        with tarfile.open(shard, "r") as tar:
            for member in tar:
                if not member.isfile():
                    continue
                base = member.name.rsplit("/", 1)[-1]
                key, _, ext = base.partition(".")
                data = tar.extractfile(member)
                assert data is not None  # isfile() members always have a payload
                groups.setdefault(key, {})[f".{ext}"] = data.read()
        for key, parts in groups.items():
            if VIDEO_SUFFIX not in parts or CAPTION_SUFFIX not in parts:
                raise ValueError(
                    f"{shard}: sample {key!r} needs {key}.mp4 and {key}.txt (got {sorted(parts)})"
                )
            yield VideoCaption(key, parts[VIDEO_SUFFIX], parts[CAPTION_SUFFIX].decode("utf-8").strip())


class ResumableSampler:
    """Per-rank batches of sample indices from a seeded permutation per epoch; resumable.

    Epoch e uses ``randperm(num_items)`` from a generator seeded with ``seed + e``. Each step consumes
    ``batch_size × world_size`` indices of it; rank r takes its contiguous ``batch_size`` slice. A
    tail shorter than one global batch is dropped, so every rank always gets a full batch.
    """

    def __init__(
        self, num_items: int, *, batch_size: int, seed: int, rank: int = 0, world_size: int = 1
    ) -> None:
        if batch_size < 1:
            raise ValueError(f"batch_size must be >= 1 (got {batch_size})")
        if not 0 <= rank < world_size:
            raise ValueError(f"rank must be in [0, world_size={world_size}) (got {rank})")
        if num_items < batch_size * world_size:
            raise ValueError(
                f"{num_items} samples cannot fill one global batch of {batch_size} x {world_size} ranks; "
                f"add data or lower batch_size"
            )
        self.num_items, self.batch_size, self.seed = num_items, batch_size, seed
        self.rank, self.world_size = rank, world_size
        self.epoch, self.position = 0, 0
        self._perm: torch.Tensor | None = None

    def _permutation(self) -> torch.Tensor:
        if self._perm is None:
            g = torch.Generator().manual_seed(self.seed + self.epoch)
            self._perm = torch.randperm(self.num_items, generator=g)
        return self._perm

    def next_indices(self) -> list[int]:
        """This rank's indices for the next step; advances the state."""
        step = self.batch_size * self.world_size
        if self.position + step > self.num_items:
            self.epoch, self.position, self._perm = self.epoch + 1, 0, None
        start = self.position + self.rank * self.batch_size
        out = self._permutation()[start : start + self.batch_size].tolist()
        self.position += step
        return out

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "position": self.position}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch, self.position, self._perm = int(state["epoch"]), int(state["position"]), None


__all__ = ["ResumableSampler", "VideoCaption", "iter_tar_shards", "read_manifest", "scan_folder"]
