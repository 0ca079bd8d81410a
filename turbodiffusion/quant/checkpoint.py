"""Streaming converter: a float Wan DiT checkpoint -> the W8A8 INT8 layout (``turbodiffusion quantize``).

What changes (quantization.md §1, §4): every 2-D ``blocks.*.weight`` whose name contains no ``config.skip``
string (the block linears; SLA's ``proj_l`` stays float) becomes ``<p>.int8_weight`` int8 [out, in] +
``<p>.scale`` fp32 [ceil(out/128), in/128]. Everything else is copied unchanged, except the official
Conv3d patch embedding [dim, in_dim, 1, 2, 2], written in the flat [dim, in_dim * 4] form TurboWan files
use, and training prefixes (``net.`` ...), which are stripped (models/key_maps.py).

Memory: the output's safetensors header is computed from the source's shapes before any data is read;
then tensors are read one at a time (safetensors lazily, ``.pth`` memory-mapped), quantised in 128-row
groups and written at their final offsets, so peak memory is about one source tensor. The destination
appears only when complete: everything goes to a temporary file in the destination folder, renamed over
it with ``os.replace``; on any failure or Ctrl-C the temporary file is removed.
"""

from __future__ import annotations

import json
import logging
import math
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

import torch
from torch import Tensor

from ..errors import CheckpointError
from ..models import key_maps
from ..models.checkpoint_io import CheckpointReader
from .act_quant import BLOCK, quantize_blockwise
from .config import Int8Config

logger = logging.getLogger(__name__)

# Rows quantised per step: a multiple of the 128-row tile (tiles never span two steps), small enough that
# the fp32 temporaries stay far below one large tensor.
_ROWS_PER_STEP = 16 * BLOCK
_ST_DTYPES: dict[torch.dtype, str] = {
    torch.float64: "F64",
    torch.float32: "F32",
    torch.float16: "F16",
    torch.bfloat16: "BF16",
    torch.int64: "I64",
    torch.int32: "I32",
    torch.int16: "I16",
    torch.int8: "I8",
    torch.uint8: "U8",
    torch.bool: "BOOL",
}
METADATA_KEY = "quant_config"  # safetensors metadata key holding json(config.to_dict())


@dataclass(frozen=True)
class _Out:
    """One tensor of the output file."""

    name: str
    dtype: torch.dtype
    shape: tuple[int, ...]

    @property
    def nbytes(self) -> int:
        return math.prod(self.shape) * self.dtype.itemsize


@dataclass(frozen=True)
class _Step:
    """One source tensor and what it becomes: "quantize" (-> codes, scale), "flatten" (Conv3d) or "copy"."""

    source: str
    action: str
    outs: tuple[_Out, ...]


def quantize_checkpoint(
    src: str | os.PathLike | list,
    dst: str | os.PathLike,
    config: Int8Config | None = None,
    *,
    overwrite: bool = False,
    device: torch.device | str = "cpu",
    progress: bool = True,
) -> Path:
    """Convert the Wan DiT checkpoint ``src`` to the W8A8 INT8 layout at ``dst``; returns ``dst``.

    src: a ``.safetensors`` file, a sharded ``*.safetensors.index.json`` (or its folder), or a ``.pth``
    state dict (read with ``torch.load(weights_only=True, mmap=True)``), bf16/fp16/fp32.
    dst: ``.safetensors`` (config stored in the metadata under "quant_config") or ``.pth`` (a flat state
    dict like the TurboWan files; no metadata). device: where the quantiser runs ("cuda" uses the Triton
    kernel, same bits). Raises FileExistsError if dst exists and not ``overwrite``, CheckpointError if src is
    not a float Wan DiT checkpoint, ValueError for an unsupported dst suffix.
    """
    config = config or Int8Config()
    if not isinstance(config, Int8Config):
        raise ValueError(
            f"quantize_checkpoint writes the INT8 format; config must be an Int8Config (got {config!r})"
        )
    dst = Path(dst)
    if dst.suffix not in (".safetensors", ".pth", ".pt"):
        raise ValueError(f"dst must end in .safetensors, .pth or .pt (got {dst.name!r})")
    if dst.exists() and not overwrite:
        raise FileExistsError(f"{dst} already exists; pass --overwrite (overwrite=True) to replace it")
    if not dst.parent.is_dir():
        raise FileNotFoundError(f"destination folder {dst.parent} does not exist; create it first")
    reader = CheckpointReader(src)
    steps = plan_conversion(reader, config)
    metadata = dict(reader.metadata)
    metadata[METADATA_KEY] = json.dumps(config.to_dict())
    n_quant = sum(s.action == "quantize" for s in steps)
    logger.info("quantize: %s -> %s (%d block linears to INT8, %d tensors copied)", reader.name, dst, n_quant,
                len(steps) - n_quant)  # fmt: skip

    if dst.suffix != ".safetensors":
        logger.warning("%s: a .pth file has no metadata, so the quant config is not stored with it "
                       "(the layout is still recognised by its int8_weight keys)", dst.name)  # fmt: skip
    temps: list[Path] = []
    try:
        st_tmp = _temp_beside(dst, temps)
        _write_safetensors(reader, steps, metadata, st_tmp, torch.device(device), config, progress)
        if dst.suffix == ".safetensors":
            os.replace(st_tmp, dst)
        else:
            pth_tmp = _temp_beside(dst, temps)
            _safetensors_to_pth(st_tmp, pth_tmp)
            os.replace(pth_tmp, dst)
    except BaseException:  # includes KeyboardInterrupt: never leave a partial file behind
        for t in temps:
            t.unlink(missing_ok=True)
        raise
    for t in temps:  # the .pth path leaves its safetensors intermediate
        t.unlink(missing_ok=True)
    return dst


def plan_conversion(reader: CheckpointReader, config: Int8Config) -> list[_Step]:
    """Decide each source tensor's fate from names and shapes only (no data read); raises CheckpointError."""
    steps: list[_Step] = []
    seen: dict[str, str] = {}
    bad_k: list[str] = []
    for source in reader:
        name = _strip_prefix(source)
        if name in key_maps.DIT_DROPPED_KEYS:
            logger.debug("dropping %s: %s", source, key_maps.DIT_DROPPED_KEYS[name])
            continue
        if name.endswith(".int8_weight"):
            raise CheckpointError(
                f"{reader.name} is already quantised ({source}); convert a float checkpoint"
            )
        shape, dtype = reader.shape(source), reader.dtype(source)
        if is_block_linear_weight(name, shape, config):
            if not dtype.is_floating_point:
                raise CheckpointError(f"{source} should be a float linear weight (got {dtype})")
            if shape[1] % BLOCK:
                bad_k.append(f"{source} {list(shape)}")
            p = name[: -len(".weight")]
            n_r, n_c = -(-shape[0] // BLOCK), shape[1] // BLOCK
            outs = (
                _Out(f"{p}.int8_weight", torch.int8, shape),
                _Out(f"{p}.scale", torch.float32, (n_r, n_c)),
            )
            steps.append(_Step(source, "quantize", outs))
        elif key_maps.DIT_LAYOUT_CONVERSIONS.get(name) == "conv3d_to_linear" and len(shape) == 5:
            steps.append(_Step(source, "flatten", (_Out(name, dtype, (shape[0], math.prod(shape[1:]))),)))
        else:
            steps.append(_Step(source, "copy", (_Out(name, dtype, shape),)))
        for out in steps[-1].outs:
            if out.name in seen:
                raise CheckpointError(f"{reader.name}: {source} and {seen[out.name]} both become {out.name}")
            if out.dtype not in _ST_DTYPES:
                raise CheckpointError(
                    f"{source} has dtype {out.dtype}, which the safetensors writer does not take"
                )
            seen[out.name] = source
    if bad_k:
        raise CheckpointError(
            f"{len(bad_k)} block linear(s) have in_features not a multiple of 128, which the INT8 format needs: "
            f"{', '.join(bad_k[:5])}"
        )
    if not any(s.action == "quantize" for s in steps):
        raise CheckpointError(
            f"{reader.name} has no block linear weights (2-D 'blocks.*.weight' tensors); is it a Wan DiT checkpoint?"
        )
    return steps


def is_block_linear_weight(name: str, shape: tuple[int, ...], config: Int8Config) -> bool:
    """The converter's rule for "an nn.Linear weight inside model.blocks" (quantize_'s rule, by name)."""
    return (
        name.startswith("blocks.")
        and name.endswith(".weight")
        and len(shape) == 2
        and not any(s in name for s in config.skip)
    )


def _strip_prefix(name: str) -> str:
    for prefix in key_maps.STRIP_PREFIXES:
        if name.startswith(prefix):
            return name[len(prefix) :]
    return name


def _temp_beside(dst: Path, temps: list[Path]) -> Path:
    fd, tmp = tempfile.mkstemp(prefix=f".{dst.name}.", suffix=".tmp", dir=dst.parent)
    os.close(fd)
    temps.append(Path(tmp))
    return Path(tmp)


def _layout(steps: list[_Step]) -> tuple[dict[str, tuple[int, int]], int]:
    """Byte ranges in the data section. Wider dtypes first, so every tensor starts at a multiple of its
    item size (the header is padded to 8 bytes), which zero-copy readers need."""
    outs = [o for s in steps for o in s.outs]
    order = sorted(range(len(outs)), key=lambda i: (-outs[i].dtype.itemsize, i))
    offsets: dict[str, tuple[int, int]] = {}
    pos = 0
    for i in order:
        offsets[outs[i].name] = (pos, pos + outs[i].nbytes)
        pos += outs[i].nbytes
    return offsets, pos


def _write_safetensors(
    reader: CheckpointReader,
    steps: list[_Step],
    metadata: dict[str, str],
    path: Path,
    device: torch.device,
    config: Int8Config,
    progress: bool,
) -> None:
    from tqdm.auto import tqdm

    offsets, total = _layout(steps)
    header: dict = {"__metadata__": metadata}
    for s in steps:
        for o in s.outs:
            header[o.name] = {
                "dtype": _ST_DTYPES[o.dtype],
                "shape": list(o.shape),
                "data_offsets": list(offsets[o.name]),
            }
    blob = json.dumps(header, separators=(",", ":")).encode()
    blob += b" " * (-len(blob) % 8)
    data_start = 8 + len(blob)
    with open(path, "wb") as f:
        f.write(len(blob).to_bytes(8, "little"))
        f.write(blob)
        f.truncate(data_start + total)
        for s in tqdm(steps, desc="quantize", unit="tensor", disable=not progress):
            tensor = reader[s.source]
            if s.action == "quantize":
                codes_out, scale_out = s.outs
                scales = []
                for r0 in range(0, tensor.shape[0], _ROWS_PER_STEP):
                    chunk = tensor[r0 : r0 + _ROWS_PER_STEP].to(device)
                    codes, scale = quantize_blockwise(chunk, BLOCK, "int8", impl=config.impl)
                    row_bytes = tensor.shape[1]  # int8: one byte per element
                    _write_at(f, data_start + offsets[codes_out.name][0] + r0 * row_bytes, codes)
                    scales.append(scale)
                _write_at(f, data_start + offsets[scale_out.name][0], torch.cat(scales))
            else:
                (out,) = s.outs
                _write_at(f, data_start + offsets[out.name][0], tensor.reshape(out.shape))
            del tensor
        f.flush()
        os.fsync(f.fileno())


def _write_at(f, pos: int, t: Tensor) -> None:
    f.seek(pos)
    flat = t.detach().to("cpu").contiguous().reshape(-1)
    if flat.numel():
        f.write(flat.view(torch.uint8).numpy().data)


def _safetensors_to_pth(st_path: Path, pth_path: Path) -> None:
    """Re-pack a safetensors file as a torch.save'd flat state dict without loading it: every tensor is a
    copy-on-write memory map of its byte range, so torch.save streams from the page cache."""
    import numpy as np

    with open(st_path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
    header.pop("__metadata__", None)
    dtypes = {v: k for k, v in _ST_DTYPES.items()}
    state: dict[str, Tensor] = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        dtype = dtypes[info["dtype"]]
        if end == begin:
            state[name] = torch.empty(info["shape"], dtype=dtype)
            continue
        raw = np.memmap(st_path, dtype=np.uint8, mode="c", offset=8 + n + begin, shape=(end - begin,))
        state[name] = torch.from_numpy(raw).view(dtype).reshape(info["shape"])
    torch.save(state, pth_path)
