"""Training checkpoints through ``torch.distributed.checkpoint`` (DCP): save, find the latest, resume.

A checkpoint is a DCP directory ``step-00000042`` holding, per trained network, the model and
optimizer state (sharded when FSDP2 is on: every rank writes its own shards) plus ``trainer``: a dict
of integer/byte tensors (step, sampler position, RNG states) with no pickled objects, so loading never
unpickles. Writes go to a temporary ``.tmp`` folder which rank 0 renames once every rank has
finished: a kill mid-save leaves only the previous complete checkpoint, which ``latest_checkpoint``
returns.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import torch
import torch.distributed as dist
import torch.distributed.checkpoint as dcp
from torch import Tensor, nn
from torch.distributed.checkpoint.state_dict import get_state_dict, set_state_dict

logger = logging.getLogger(__name__)

_STEP_DIR = re.compile(r"^step-(\d{8})$")


def _dist_on() -> bool:
    return dist.is_available() and dist.is_initialized()


def _barrier() -> None:
    if _dist_on():
        dist.barrier()


def _rank() -> int:
    return dist.get_rank() if _dist_on() else 0


def checkpoint_dir(root: str | os.PathLike, step: int) -> Path:
    return Path(root) / f"step-{step:08d}"


def latest_checkpoint(root: str | os.PathLike) -> Path | None:
    """The complete checkpoint with the highest step under ``root``, or None (temporary folders ignored)."""
    root = Path(root)
    if not root.is_dir():
        return None
    found = [(int(m.group(1)), p) for p in root.iterdir() if p.is_dir() and (m := _STEP_DIR.match(p.name))]
    return max(found)[1] if found else None


def _app_state(
    networks: dict[str, tuple[nn.Module, torch.optim.Optimizer | None]], trainer: dict[str, Tensor]
) -> dict[str, object]:
    state: dict[str, object] = {"trainer": trainer}
    for name, (model, opt) in networks.items():
        msd, osd = get_state_dict(model, [opt] if opt is not None else [])
        state[f"{name}.model"] = msd
        if opt is not None:
            state[f"{name}.optim"] = osd
    return state


def save_checkpoint(
    root: str | os.PathLike,
    step: int,
    networks: dict[str, tuple[nn.Module, torch.optim.Optimizer | None]],
    trainer: dict[str, Tensor],
) -> Path:
    """Save every network (model + optional optimizer) and the trainer tensors as ``root/step-XXXXXXXX``.

    Collective when a process group is initialised: every rank must call it. Returns the final path.
    """
    final = checkpoint_dir(root, step)
    tmp = final.with_name(final.name + ".tmp")
    if _rank() == 0:
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.parent.mkdir(parents=True, exist_ok=True)
    _barrier()
    dcp.save(_app_state(networks, trainer), checkpoint_id=str(tmp), no_dist=not _dist_on())
    _barrier()
    if _rank() == 0:
        shutil.rmtree(final, ignore_errors=True)
        os.replace(tmp, final)
    _barrier()
    logger.info("saved checkpoint %s", final)
    return final


def load_checkpoint(
    path: str | os.PathLike,
    networks: dict[str, tuple[nn.Module, torch.optim.Optimizer | None]],
    trainer: dict[str, Tensor],
) -> dict[str, Tensor]:
    """Load ``path`` into the networks (in place, resharding as needed) and return the trainer tensors.

    ``trainer`` gives the names and shapes to read (pass tensors of the saved shapes, e.g. the current
    ones). Raises FileNotFoundError when ``path`` is not a checkpoint directory.
    """
    path = Path(path)
    if not (path / ".metadata").is_file():
        raise FileNotFoundError(f"{path} is not a DCP checkpoint (no .metadata); pass a step-XXXXXXXX folder")
    state = _app_state(networks, {k: v.clone() for k, v in trainer.items()})
    dcp.load(state, checkpoint_id=str(path), no_dist=not _dist_on())
    for name, (model, opt) in networks.items():
        set_state_dict(
            model,
            [opt] if opt is not None else [],
            model_state_dict=state[f"{name}.model"],
            optim_state_dict=state.get(f"{name}.optim", {}),
        )
    logger.info("resumed from %s", path)
    return state["trainer"]  # type: ignore[return-value]


__all__ = ["checkpoint_dir", "latest_checkpoint", "load_checkpoint", "save_checkpoint"]
