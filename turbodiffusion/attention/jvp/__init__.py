"""Forward-mode derivative (JVP) of dense softmax attention, for rCM's tangent pass.

shared/docs/sampling-and-training.md §4: PyTorch's fused SDPA kernels have no forward-mode formula,
so ``torch.func.jvp`` through a model that calls them fails. ``DenseJVPAttention`` is a drop-in
attention module (``forward(q, k, v) -> o``, [B, L, H, D]) whose op carries the JVP rule of
``reference.py`` and an ordinary backward, so the student DiT can run under ``torch.func.jvp``.
The tangent runs in the Triton kernel (``kernel.py``) on CUDA and in the reference on the CPU.
"""

from __future__ import annotations

from typing import Literal

import torch
from torch import Tensor, nn

from ..sdpa import check_qkv, sdpa_attention
from .reference import attention_jvp_reference, attention_reference

Impl = Literal["auto", "triton", "reference"]


def _check_impl(impl: str) -> None:
    if impl not in ("auto", "triton", "reference"):
        raise ValueError(f'impl must be "auto", "triton" or "reference" (got {impl!r})')


def attention_jvp(
    q: Tensor, k: Tensor, v: Tensor, dq: Tensor, dk: Tensor, dv: Tensor, *, impl: Impl = "auto"
) -> tuple[Tensor, Tensor]:
    """(o, do): attention and its tangent along (dq, dk, dv). Shapes as ``attention_jvp_reference``.

    impl: "auto" = Triton kernel on CUDA, reference elsewhere; "triton" on the CPU needs
    TRITON_INTERPRET=1; "reference" always works.
    """
    _check_impl(impl)
    if impl == "reference" or (impl == "auto" and q.device.type != "cuda"):
        return attention_jvp_reference(q, k, v, dq, dk, dv)
    from .kernel import attention_jvp_op

    return attention_jvp_op(q, k, v, dq, dk, dv)


class _AttentionWithJVP(torch.autograd.Function):
    """Dense attention with a backward (recomputed through SDPA) and a forward-mode rule.

    The primal runs through SDPA (fused kernels, no [L, L] matrix); only the tangent needs this op.
    """

    @staticmethod
    def forward(q: Tensor, k: Tensor, v: Tensor, impl: Impl) -> Tensor:
        return sdpa_attention(q, k, v)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        q, k, v, ctx.impl = inputs
        ctx.save_for_backward(q, k, v)
        ctx.save_for_forward(q, k, v)

    @staticmethod
    def backward(ctx, grad_o: Tensor):
        q, k, v = ctx.saved_tensors
        with torch.enable_grad():
            leaves = [t.detach().requires_grad_(True) for t in (q, k, v)]
            o = sdpa_attention(*leaves)
            return (*torch.autograd.grad(o, leaves, grad_o), None)

    @staticmethod
    def jvp(ctx, dq: Tensor | None, dk: Tensor | None, dv: Tensor | None, _impl) -> Tensor:
        q, k, v = ctx.saved_tensors
        # A primal without a tangent contributes a zero tangent.
        dq = torch.zeros_like(q) if dq is None else dq
        dk = torch.zeros_like(k) if dk is None else dk
        dv = torch.zeros_like(v) if dv is None else dv
        return attention_jvp(q, k, v, dq, dk, dv, impl=ctx.impl)[1]


def attention_with_jvp(q: Tensor, k: Tensor, v: Tensor, *, impl: Impl = "auto") -> Tensor:
    """Dense attention usable under ``torch.func.jvp``, forward-mode AD and ordinary autograd.

    q: [B, Lq, H, D]; k, v: [B, Lk, H, D]. Returns o: [B, Lq, H, D] in q's dtype.
    """
    check_qkv(q, k, v)
    return _AttentionWithJVP.apply(q, k, v, impl)


class DenseJVPAttention(nn.Module):
    """Attention backend module (``forward(q, k, v) -> o``, [B, L, H, D]) with a JVP; no parameters.

    rCM trains the student with full attention (§4), so this replaces the student's ``attn_op``
    modules for the tangent pass; its forward equals SDPA up to rounding order.
    """

    def __init__(self, impl: Impl = "auto") -> None:
        super().__init__()
        _check_impl(impl)
        self.impl: Impl = impl

    def forward(self, q: Tensor, k: Tensor, v: Tensor, key_bias: Tensor | None = None) -> Tensor:
        """key_bias: accepted for the cross-attention's interface; only None (its tangent rule has none)."""
        if key_bias is not None:
            raise ValueError(
                "DenseJVPAttention has no key bias: train on full-length text contexts (text_len rows, as "
                "training.cache stores them), whose cross-attention needs none"
            )
        return attention_with_jvp(q, k, v, impl=self.impl)


__all__ = [
    "DenseJVPAttention",
    "attention_jvp",
    "attention_jvp_reference",
    "attention_reference",
    "attention_with_jvp",
]
