"""SLA golden-fixture case for the fixture runner (``python -m turbodiffusion.testing.golden``).

A fixture holds ``input.q/k/v`` [B, L, H, D] fp32, ``weights.proj_l.weight/bias`` and the expected
``output.o`` and ``output.block_map``; its metadata gives BLKQ, BLKK and topk_ratio (attention.md §8).
"""

from __future__ import annotations

import torch
from torch import Tensor

from .block_map import select_blocks
from .reference import sla_reference


def run_sla_fixture(tensors: dict[str, Tensor], metadata: dict[str, str]) -> dict[str, tuple[Tensor, Tensor]]:
    """Recompute an SLA fixture from its inputs, weights and metadata alone.

    Returns {"o": (ours, expected) [B, L, H, D] float32, "block_map": (ours, expected) int32 [B, H, Mq, Nk]}.
    Raises ValueError when a needed tensor or metadata key is missing, or when the metadata's
    ``real_topk_blocks`` disagrees with the count our rule derives from ``topk_ratio``.
    """
    for key in ("BLKQ", "BLKK", "topk_ratio"):
        if key not in metadata:
            raise ValueError(f"SLA fixture metadata lacks {key!r} (has {sorted(metadata)})")
    names = ("input.q", "input.k", "input.v", "weights.proj_l.weight", "weights.proj_l.bias")
    for name in (*names, "output.o", "output.block_map"):
        if name not in tensors:
            raise ValueError(f"SLA fixture lacks tensor {name!r} (has {sorted(tensors)})")
    q, k, v, weight, bias = (tensors[n] for n in names)
    block_q, block_k = int(metadata["BLKQ"]), int(metadata["BLKK"])
    ratio = float(metadata["topk_ratio"])
    selection = select_blocks(q, k, block_q, block_k, ratio)
    if "real_topk_blocks" in metadata and int(metadata["real_topk_blocks"]) != selection.topk:
        raise ValueError(
            f"fixture says real_topk_blocks={metadata['real_topk_blocks']} but topk_ratio={ratio} over "
            f"{selection.block_map.shape[-1]} key blocks gives {selection.topk}"
        )
    with torch.no_grad():
        o = sla_reference(
            q, k, v, weight, bias, topk_ratio=ratio, block_q=block_q, block_k=block_k, selection=selection
        )
    return {
        "o": (o, tensors["output.o"]),
        "block_map": (selection.block_map.to(torch.int32), tensors["output.block_map"]),
    }
