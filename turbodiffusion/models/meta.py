"""Build modules on the meta device without running their random initialisers.

A module built on ``torch.device("meta")`` has shapes and no values, so the loaders build there and fill it
from a file. Its constructor still runs ``nn.init``, and on meta tensors some of those fills (``normal_``,
as in every ``nn.Embedding``, and the ``erfinv_`` / ``clamp_`` of ``trunc_normal_``) are Python
decompositions whose first call imports ``torch._dynamo``: about 1 s of a 2-core CPU's start-up, for values
that do not exist. ``on_meta()`` skips ``nn.init``'s initialisers and the in-place fills they use when
they write to a meta tensor; real tensors made inside the block are filled as usual.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

import torch
from torch import Tensor, nn
from torch.overrides import TorchFunctionMode

# nn.init's public initialisers (each dispatches through torch functions before it computes anything) and
# the in-place tensor methods they write with. Each returns its input, and a meta tensor has no values.
INIT_FILLS = frozenset(
    {getattr(nn.init, name) for name in dir(nn.init) if name.endswith("_") and not name.startswith("_")}
    | {
        Tensor.normal_,
        Tensor.uniform_,
        Tensor.erfinv_,
        Tensor.clamp_,
        Tensor.mul_,
        Tensor.add_,
        Tensor.fill_,
        Tensor.zero_,
        Tensor.copy_,
        Tensor.exponential_,
    }
)


class _SkipMetaFills(TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        if func in INIT_FILLS:
            target = args[0] if args else kwargs.get("tensor")  # nn.init passes its tensor by keyword
            if isinstance(target, Tensor) and target.is_meta:
                return target
        return func(*args, **kwargs)


@contextlib.contextmanager
def on_meta() -> Iterator[None]:
    """``with on_meta(): module = Cls(...)``: the module's tensors are on meta, its initialisers skipped."""
    with torch.device("meta"), _SkipMetaFills():
        yield
