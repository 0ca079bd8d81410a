"""Merge separately trained SLA and rCM updates into one TurboWan student (shared/docs §6).

Task arithmetic, every tensor in float32 and cast back to the base (rCM) dtype:

    θ_turbo = θ_rCM + w · (θ_SLA − θ_pre)        (w = 1 by default)

Keys present only in the SLA model (its ``proj_l`` weights) are copied from it; keys whose shapes
differ between the three keep the rCM value; keys only in the rCM model are kept as they are. The
three checkpoints must use the same key names (all official Wan names, or all our own saves). The
result loads with ``load_dit(..., attention=AttentionConfig("sla"))`` like a TurboWan checkpoint.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass, field

from torch import Tensor

from ..models.checkpoint_io import CheckpointReader, save_safetensors

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class MergeReport:
    """What ``merge_state_dicts`` did with each key."""

    merged: list[str] = field(default_factory=list)  # θ_rCM + w (θ_SLA − θ_pre)
    copied_from_sla: list[str] = field(default_factory=list)  # only in the SLA model (proj_l)
    kept_rcm: list[str] = field(default_factory=list)  # missing from SLA/pre, or shapes differ


def merge_state_dicts(
    pre: Mapping[str, Tensor], sla: Mapping[str, Tensor], rcm: Mapping[str, Tensor], *, weight: float = 1.0
) -> tuple[dict[str, Tensor], MergeReport]:
    """θ_rCM + weight · (θ_SLA − θ_pre) per key (fp32 math, rCM dtype out); see the module docstring.

    Each mapping is name -> tensor (a state dict or a CheckpointReader). Returns (merged, report).
    Raises ValueError when a key is only in ``pre`` (the three do not come from one base model).
    """
    only_pre = sorted(set(pre) - set(rcm) - set(sla))
    if only_pre:
        raise ValueError(
            f"{len(only_pre)} key(s) of the pretrained model are in neither the SLA nor the rCM model "
            f"(first: {only_pre[:3]}); merge checkpoints that share one base model and one naming"
        )
    out: dict[str, Tensor] = {}
    report = MergeReport()
    for name in rcm:
        base = rcm[name]
        if (
            name in sla
            and name in pre
            and base.shape == sla[name].shape == pre[name].shape
            and base.is_floating_point()
        ):
            # float32 on purpose: the delta θ_SLA − θ_pre is tiny next to θ and would vanish in bf16.
            delta = sla[name].float() - pre[name].float()
            out[name] = (base.float() + weight * delta).to(base.dtype)
            report.merged.append(name)
        else:
            out[name] = base
            report.kept_rcm.append(name)
    for name in sla:
        if name not in rcm:
            out[name] = (
                sla[name].to(next(iter(rcm.values())).dtype) if sla[name].is_floating_point() else sla[name]
            )
            report.copied_from_sla.append(name)
    return out, report


def merge_checkpoints(
    pretrained: str | os.PathLike,
    sla: str | os.PathLike,
    rcm: str | os.PathLike,
    out: str | os.PathLike,
    *,
    weight: float = 1.0,
) -> MergeReport:
    """Merge three checkpoint files into ``out`` (safetensors, atomic); returns the report.

    The model config in the output metadata is taken from the first input that stores one.
    """
    readers = [CheckpointReader(p) for p in (pretrained, sla, rcm)]
    merged, report = merge_state_dicts(*readers, weight=weight)
    meta = {"format": "turbodiffusion-wan-dit", "merge": f"rcm + {weight} * (sla - pretrained)"}
    for reader in (readers[1], readers[2], readers[0]):
        if "config" in reader.metadata:
            meta["config"] = reader.metadata["config"]
            break
    save_safetensors(merged, out, meta)
    logger.info(
        "merged %d tensors, copied %d SLA-only, kept %d from rCM -> %s",
        len(report.merged),
        len(report.copied_from_sla),
        len(report.kept_rcm),
        out,
    )
    return report


__all__ = ["MergeReport", "merge_checkpoints", "merge_state_dicts"]
