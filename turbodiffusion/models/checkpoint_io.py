"""Reading and writing checkpoint files: safetensors (single or sharded) and ``.pth`` state dicts.

The only code that opens checkpoint files. ``.pth`` files go through
``torch.load(weights_only=True, mmap=True)`` so a checkpoint can never run code; safetensors are read
lazily, tensor by tensor.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator, Mapping
from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError

SAFETENSORS_DTYPES: dict[str, torch.dtype] = {
    "F64": torch.float64,
    "F32": torch.float32,
    "F16": torch.float16,
    "BF16": torch.bfloat16,
    "I64": torch.int64,
    "I32": torch.int32,
    "I16": torch.int16,
    "I8": torch.int8,
    "U8": torch.uint8,
    "BOOL": torch.bool,
    "F8_E4M3": torch.float8_e4m3fn,
    "F8_E5M2": torch.float8_e5m2,
}
PTH_SUFFIXES = (".pth", ".pt", ".bin", ".ckpt")
# Wrappers some training code puts around the state dict inside a .pth.
PTH_NESTED_KEYS = ("state_dict", "model", "net", "ema")


def resolve_checkpoint_files(source: str | os.PathLike | list) -> list[Path]:
    """The files behind ``source``: a file, a list of shard files, an ``*.index.json``, or a folder.

    A folder must hold exactly one of: a safetensors index json, one ``.safetensors`` file, one ``.pth``.
    Raises FileNotFoundError naming what is missing.
    """
    if isinstance(source, (list, tuple)):
        files = [Path(p) for p in source]
        for f in files:
            if not f.is_file():
                raise FileNotFoundError(f"checkpoint shard not found: {f}")
        return files
    path = Path(source)
    if path.is_dir():
        indexes = sorted(path.glob("*.safetensors.index.json"))
        singles = sorted(path.glob("*.safetensors"))
        pths = sorted(p for p in path.iterdir() if p.suffix in PTH_SUFFIXES)
        if len(indexes) == 1:
            return resolve_checkpoint_files(indexes[0])
        if not indexes and len(singles) == 1:
            return singles
        if not indexes and not singles and len(pths) == 1:
            return pths
        found = [p.name for p in (*indexes, *singles, *pths)]
        raise FileNotFoundError(
            f"{path} must hold one checkpoint (a .safetensors, a sharded *.safetensors.index.json or one "
            f".pth); found {found or 'none'}. Pass the file itself instead of the folder."
        )
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint not found: {path}")
    if path.name.endswith(".index.json"):
        try:
            weight_map = json.loads(path.read_text())["weight_map"]
        except (json.JSONDecodeError, KeyError, TypeError) as err:
            raise CheckpointError(
                f"{path} is not a safetensors index (no valid 'weight_map'): {err}"
            ) from err
        shards = [path.parent / name for name in sorted(set(weight_map.values()))]
        missing = [s.name for s in shards if not s.is_file()]
        if missing:
            raise FileNotFoundError(
                f"{len(missing)} shard(s) listed in {path.name} are missing from {path.parent}: "
                f"{', '.join(missing[:5])}"
            )
        return shards
    return [path]


class CheckpointReader(Mapping[str, Tensor]):
    """Read-only ``name -> tensor`` view over one or more checkpoint files.

    Safetensors tensors are read on access; ``.pth`` tensors are memory-mapped. ``shape(name)`` and
    ``dtype(name)`` never read tensor data. Raises CheckpointError for unreadable or corrupt files.
    """

    def __init__(self, source: str | os.PathLike | list) -> None:
        self.files = resolve_checkpoint_files(source)
        self.name = (
            self.files[0].name
            if len(self.files) == 1
            else f"{self.files[0].parent.name}/ ({len(self.files)} shards)"
        )
        self._where: dict[str, int] = {}  # tensor name -> index of its file
        self._handles: list[object] = []
        self.metadata: dict[str, str] = {}
        for i, f in enumerate(self.files):
            handle = _open_one(f)
            self._handles.append(handle)
            if not isinstance(handle, dict):
                self.metadata.update(handle.metadata() or {})
            for name in handle.keys():
                if name in self._where:
                    first = self.files[self._where[name]].name
                    raise CheckpointError(f"tensor {name!r} appears in two shards ({first}, {f.name})")
                self._where[name] = i

    @classmethod
    def from_tensors(cls, tensors: Mapping[str, Tensor], name: str = "<tensors>") -> CheckpointReader:
        """A reader over tensors already in memory (fixtures, tests), with the same interface."""
        reader = cls.__new__(cls)
        reader.files = [Path(name)]
        reader.name = name
        reader._handles = [dict(tensors)]
        reader._where = dict.fromkeys(tensors, 0)
        reader.metadata = {}
        return reader

    def __getitem__(self, name: str) -> Tensor:
        i = self._where[name]
        handle = self._handles[i]
        try:
            return handle[name] if isinstance(handle, dict) else handle.get_tensor(name)
        except Exception as err:  # safetensors raises its own error type for bad byte ranges
            raise CheckpointError(f"cannot read tensor {name!r} from {self.files[i]}: {err}") from err

    def __iter__(self) -> Iterator[str]:
        return iter(self._where)

    def __len__(self) -> int:
        return len(self._where)

    def shape(self, name: str) -> tuple[int, ...]:
        i = self._where[name]
        handle = self._handles[i]
        if isinstance(handle, dict):
            return tuple(handle[name].shape)
        return tuple(handle.get_slice(name).get_shape())

    def dtype(self, name: str) -> torch.dtype:
        i = self._where[name]
        handle = self._handles[i]
        if isinstance(handle, dict):
            return handle[name].dtype
        code = handle.get_slice(name).get_dtype()
        if code not in SAFETENSORS_DTYPES:
            raise CheckpointError(f"tensor {name!r} in {self.files[i].name} has unsupported dtype {code}")
        return SAFETENSORS_DTYPES[code]


def _open_one(path: Path):
    if path.suffix == ".safetensors":
        from safetensors import safe_open

        try:
            return safe_open(str(path), framework="pt", device="cpu")
        except Exception as err:  # SafetensorError has no stable import path across versions
            raise CheckpointError(
                f"cannot read {path}: {err}. The file is truncated or corrupt; download it again."
            ) from err
    if path.suffix in PTH_SUFFIXES:
        try:
            obj = torch.load(path, map_location="cpu", mmap=True, weights_only=True)
        except Exception as err:  # zip/unpickling errors come as RuntimeError, UnpicklingError, EOFError...
            raise CheckpointError(
                f"cannot read {path}: {err}. The file is truncated, corrupt, or holds objects other than "
                "tensors (only plain state dicts are loaded, never pickled code)."
            ) from err
        return _state_dict_of(obj, path)
    raise CheckpointError(f"unsupported checkpoint format {path.suffix!r} ({path}); use .safetensors or .pth")


def _state_dict_of(obj: object, path: Path) -> dict[str, Tensor]:
    if isinstance(obj, Mapping):
        if obj and all(isinstance(v, Tensor) for v in obj.values()):
            return dict(obj)
        for key in PTH_NESTED_KEYS:
            inner = obj.get(key)
            if isinstance(inner, Mapping) and inner and all(isinstance(v, Tensor) for v in inner.values()):
                return dict(inner)
    raise CheckpointError(
        f"{path} does not hold a state dict of tensors (top level: {type(obj).__name__}"
        + (f" with keys {list(obj)[:5]}" if isinstance(obj, Mapping) else "")
        + ")"
    )


def write_text_atomic(path: str | os.PathLike, text: str, *, mode: int | None = None) -> None:
    """Write ``text`` (UTF-8) to ``path`` atomically: a temporary file in the same folder, then os.replace;
    ``mode`` (e.g. 0o644) is set before the rename. Nothing is left behind if writing fails."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
        if mode is not None:
            os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def save_safetensors(
    tensors: Mapping[str, Tensor], path: str | os.PathLike, metadata: Mapping[str, str] | None = None
) -> None:
    """Write ``tensors`` to ``path`` atomically: a temporary file in the same folder, then os.replace.

    Nothing is left at ``path`` (or beside it) if writing fails or is interrupted.
    """
    from safetensors.torch import save_file

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        contiguous = {k: v.detach().contiguous().cpu() for k, v in tensors.items()}
        save_file(contiguous, tmp, metadata=dict(metadata) if metadata else None)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
