"""``TextContextCache``: one prompt's cross-attention keys and values, kept by the caller across a sampler's
steps.

The text context does not change from one denoising step to the next, and neither does anything a block
derives from it alone: the text embedding and every block's cross-attention k (after its RMSNorm) and v.
Recomputing them costs 2 x num_layers small GEMMs, num_layers norms and the text MLP per forward: on an H200
(benchmarks/runs/h200-2026-12-04b) 0.4 ms of a 1.3B-480p forward replayed from a CUDA graph (143.65 ->
143.27 ms; the 4-step loop 576.9 -> 573.2 ms) and 4 ms of a 14B-720p one (0.2%), with outputs equal bit for
bit; eagerly, where each of those ~90 launches also costs the host, the 1.3B pipeline's four steps went from
0.735 to 0.720 s. The model itself stays cache-free (dit.py's design): the caller makes a cache per prompt
and per model, passes it as ``context``, and drops it when done. The tensors are made inside each block's
own forward on first use, so a model whose blocks are streamed onto the device (pipelines.block_offload)
fills it the same way. Cost: 2 x num_layers x keys x dim values, keys the context's rows plus the padding's
stand-ins (text_padding): with a full 512-row context 90 MiB at 1.3B and 400 MiB at 14B (bf16), with a
24-token prompt trimmed as the pipeline does (48 keys) 8.4 and 38 MiB.
"""

from __future__ import annotations

import weakref

from torch import Tensor, nn

from ...quant.row_quant import RowQuantized


class TextContextCache:
    """Pass in place of the context tensor to ``WanDiT.forward``; the first forward fills it, later ones read.

    context: [B, Lt, text_dim] text encoder output, as ``WanDiT.forward`` takes it. What is kept: the
    embedded context (for the first forward's blocks) and, per block, k and v [B, Lk, H, D] in the stream's
    dtype (Lk: the context's rows and the padding's stand-ins). Valid for one model with unchanged weights,
    in inference: a second model raises, and so does a forward with autograd recording (the stored tensors
    would carry a stale graph). ``clear()`` drops the tensors (e.g. after the weights change); the next
    forward recomputes them.
    """

    def __init__(self, context: Tensor) -> None:
        if not isinstance(context, Tensor):
            raise TypeError(f"TextContextCache takes the text encoder's output tensor (got {type(context)})")
        self.context = context
        self._owner: weakref.ref | None = None
        self._embedded: Tensor | RowQuantized | None = None
        # Keyed by id(block), not the block: a cache outliving its model must not keep the weights alive.
        # ``bind`` clears it when another model comes, so a reused id cannot alias an old block.
        self._kv: dict[int, tuple[Tensor, Tensor]] = {}

    def bind(self, model: nn.Module) -> None:
        """Tie the cache to ``model`` on first use; raise if another model uses it later."""
        owner = self._owner() if self._owner is not None else None
        if owner is None:
            self._owner = weakref.ref(model)
            self.clear()
        elif owner is not model:
            raise ValueError(
                "this TextContextCache holds another model's keys and values; make one cache per model "
                "(e.g. per expert of Wan2.2)"
            )

    @property
    def embedded(self) -> Tensor | RowQuantized | None:
        """The embedded context [B, Lk, dim] as the blocks' k and v read it, or None before a forward."""
        return self._embedded

    def store_embedded(self, embedded: Tensor | RowQuantized) -> None:
        self._embedded = embedded

    def keys_values(self, block: nn.Module) -> tuple[Tensor, Tensor] | None:
        """``block``'s (k, v) [B, Lk, H, D], or None before a forward reached it."""
        return self._kv.get(id(block))

    def store_keys_values(self, block: nn.Module, k: Tensor, v: Tensor) -> None:
        self._kv[id(block)] = (k, v)

    def copy_(self, other: TextContextCache) -> None:
        """Copy ``other``'s tensors into this cache's own, in place (their storage stays where it is: a
        captured CUDA graph may read it). Both must hold the same blocks, shapes and dtypes, e.g. the same
        model's forward on equal-shaped contexts; raises ValueError otherwise."""
        mine, theirs = self._embedded, other._embedded
        if self._kv.keys() != other._kv.keys() or type(mine) is not type(theirs) or mine is None:
            raise ValueError("TextContextCache.copy_: both caches must be filled by the same model's forward")
        pairs = [(a, b) for key in self._kv for a, b in zip(self._kv[key], other._kv[key])]
        if isinstance(mine, RowQuantized):
            pairs += [(mine.codes, theirs.codes), (mine.scale, theirs.scale)]
        else:
            pairs.append((mine, theirs))
        for dst, src in pairs:
            if dst.shape != src.shape or dst.dtype != src.dtype:
                raise ValueError(
                    f"TextContextCache.copy_: {tuple(src.shape)} {src.dtype} cannot be copied into "
                    f"{tuple(dst.shape)} {dst.dtype}"
                )
        for dst, src in pairs:
            dst.copy_(src)

    def clear(self) -> None:
        """Drop every stored tensor; the next forward recomputes them."""
        self._embedded = None
        self._kv.clear()

    def nbytes(self) -> int:
        """Device bytes the stored tensors take."""
        total = sum(k.nbytes + v.nbytes for k, v in self._kv.values())
        e = self._embedded
        if isinstance(e, RowQuantized):
            total += e.codes.nbytes + e.scale.nbytes
        elif e is not None:
            total += e.nbytes
        return total
