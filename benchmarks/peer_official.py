"""Peer row of benchmarks/e2e.py: the official ``turbodiffusion`` 1.0.0 kernels inside OUR WanDiT.

The official sdist ships kernels but no Wan model code, so the comparison is kernel for kernel: this module
imports the built sdist at benchmark time only (never from ``turbodiffusion/``; nothing of it is copied
here) and swaps, in a WanDiT that already runs our SLA + W8A8 path, each

    block self-attention op   -> its ``SLA.SparseLinearAttention`` (Triton; topk, BLKQ and BLKK as ours,
                                 our proj_l weights copied in), called on the same q, k, v [B, L, H, D]
    W8A8 ``Int8Linear``       -> its ``ops.int8_linear`` (CUDA activation quantiser + CUTLASS INT8 GEMM) on
                                 OUR int8 codes and 128x128 fp32 scales (the same TurboWan format), then
                                 ``+ bias`` as its ``Int8Linear`` does
    WanLayerNorm / WanRMSNorm -> its ``FastLayerNorm`` / ``FastRMSNorm`` (Triton)

Its SageSLA needs SpargeAttn (``spas_sage_attn``), which the sdist does not ship, so the peer's attention
is plain SLA and the fair row to set it against is ours with ``sla`` + W8A8 (e2e.py's "ours@peer" row).
Everything else (RoPE, modulation, gates, embeddings, head, sampler) is our code in both rows, and the
peer row runs our plain (unfused) block path, since the official model applies modulation and gates in
eager PyTorch around its norm kernels.

Build on the GPU machine, from the sdist's root (gencode list restricted to sm_90 first):
    python setup.py build_ext --inplace     # -> turbo_diffusion_ops*.so beside setup.py
"""

from __future__ import annotations

import importlib.util
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from types import ModuleType
from typing import Any

import torch
from torch import Tensor, nn

from turbodiffusion.models.wan.dit import WanBlock, WanDiT, WanLayerNorm, WanRMSNorm
from turbodiffusion.quant.int8_linear import Int8Linear

# Name the peer package is imported under: the official package is also called ``turbodiffusion``, so it
# cannot share that name with ours in one process.
PEER_PACKAGE = "peer_turbodiffusion"
EXTENSION = "turbo_diffusion_ops"


class PeerUnavailable(RuntimeError):
    """The official package could not be loaded; the message says why (the e2e row reports it)."""


@dataclass(frozen=True)
class PeerKernels:
    """The official entry points the swap uses (module attributes of the built sdist)."""

    sparse_linear_attention: type  # SLA.SparseLinearAttention(head_dim, topk, BLKQ=, BLKK=)
    int8_linear: Any  # ops.int8_linear(x, w_q, w_s) -> x @ dequant(w).T, in x's dtype, no bias
    fast_rms_norm: type  # ops.FastRMSNorm(dim, eps); buffer "weight"
    fast_layer_norm: type  # ops.FastLayerNorm(dim, eps, elementwise_affine, bias); buffers "weight", "bias"
    root: str


def _load_module(name: str, path: Path, package_dir: Path | None = None) -> ModuleType:
    """Import the file ``path`` as module ``name`` (a package when ``package_dir`` is given)."""
    locations = [str(package_dir)] if package_dir is not None else None
    spec = importlib.util.spec_from_file_location(name, path, submodule_search_locations=locations)
    if spec is None or spec.loader is None:
        raise PeerUnavailable(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    # Registered before exec so the package's relative imports (and its own ``import turbo_diffusion_ops``)
    # resolve to these modules; only names that our package does not use.
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def load_peer(root: str | Path, *, wait_file: str | Path | None = None, wait_s: float = 0.0) -> PeerKernels:
    """Import the built official sdist at ``root`` (the folder holding setup.py and the built extension).

    wait_file: a file the build step writes when it ends (its exit code); polled for up to ``wait_s``
    seconds first, so the build can run beside the first benchmark. Raises PeerUnavailable with the
    reason on any failure (no CUDA, build failed or unfinished, missing extension, import error).
    """
    if not torch.cuda.is_available():
        raise PeerUnavailable("the official kernels need a CUDA GPU")
    root = Path(root)
    if wait_file is not None:
        wait_file = Path(wait_file)
        deadline = time.monotonic() + wait_s
        while not wait_file.exists() and time.monotonic() < deadline:
            time.sleep(2.0)
        if not wait_file.exists():
            raise PeerUnavailable(
                f"the peer build had not finished after {wait_s:.0f} s ({wait_file} absent)"
            )
        code = wait_file.read_text().strip()
        if code != "0":
            raise PeerUnavailable(f"the peer build failed (exit code {code}); see its build log")
    package_dir = root / "turbodiffusion"
    if not (package_dir / "ops" / "core.py").is_file():
        raise PeerUnavailable(f"{root} is not the official sdist's root (no turbodiffusion/ops/core.py)")
    built = sorted(root.glob(f"{EXTENSION}*.so"))
    if not built:
        raise PeerUnavailable(f"no built {EXTENSION}*.so in {root}; run python setup.py build_ext --inplace")
    try:
        if EXTENSION not in sys.modules:
            _load_module(EXTENSION, built[0])
        if PEER_PACKAGE not in sys.modules:
            _load_module(PEER_PACKAGE, package_dir / "__init__.py", package_dir)
        ops = importlib.import_module(f"{PEER_PACKAGE}.ops")
        sla = importlib.import_module(f"{PEER_PACKAGE}.SLA")
    except (ImportError, OSError, AttributeError) as err:
        raise PeerUnavailable(f"importing the official package failed: {err}") from err
    return PeerKernels(
        sparse_linear_attention=sla.SparseLinearAttention,
        int8_linear=ops.int8_linear,
        fast_rms_norm=ops.FastRMSNorm,
        fast_layer_norm=ops.FastLayerNorm,
        root=str(root),
    )


class PeerInt8Linear(nn.Module):
    """The official INT8 linear on the codes, scales and bias of one of our ``Int8Linear`` (shared, not copied)."""

    def __init__(self, ours: Int8Linear, int8_linear: Any) -> None:
        super().__init__()
        self.in_features, self.out_features = ours.in_features, ours.out_features
        self.int8_weight, self.scale, self.bias = ours.codes, ours.scale, ours.bias
        self._int8_linear = int8_linear

    def forward(self, x: Tensor) -> Tensor:
        """x: [..., in] bf16 -> [..., out] bf16."""
        out = self._int8_linear(x, self.int8_weight, self.scale)
        return out if self.bias is None else out + self.bias.to(out.dtype)


class PeerAttention(nn.Module):
    """The official SLA module as a self-attention op: forward(q, k, v) with [B, L, H, D] -> [B, L, H, D]."""

    def __init__(self, peer: nn.Module) -> None:
        super().__init__()
        self.peer = peer

    def forward(self, q: Tensor, k: Tensor, v: Tensor) -> Tensor:
        # Its forward transposes dims 1 and 2 on entry and back on exit, so it takes our [B, L, H, D].
        return self.peer(q, k, v)


def _peer_sla(ours: nn.Module, kernels: PeerKernels, head_dim: int) -> nn.Module:
    block_q, block_k = ours.block_q, ours.block_k
    if block_k != 64 or block_q not in (64, 128):
        raise ValueError(
            f"the official SLA kernel takes BLKQ in (64, 128) and BLKK = 64 (ours runs {block_q}/{block_k}); "
            f"build the comparison model with AttentionConfig(backend='sla', block_q=128, block_k=64)"
        )
    proj = ours.local_attn.proj_l
    peer = kernels.sparse_linear_attention(head_dim, ours.topk, BLKQ=block_q, BLKK=block_k)
    peer = peer.to(proj.weight.device)
    with torch.no_grad():
        peer.proj_l.weight.copy_(proj.weight)
        peer.proj_l.bias.copy_(proj.bias)
    return PeerAttention(peer)


def _peer_norm(ours: WanLayerNorm | WanRMSNorm, kernels: PeerKernels) -> nn.Module:
    if isinstance(ours, WanRMSNorm):
        peer = kernels.fast_rms_norm(ours.weight.shape[0], eps=ours.eps)
    else:
        affine = ours.weight is not None
        peer = kernels.fast_layer_norm(ours.dim, eps=ours.eps, elementwise_affine=affine, bias=affine)
    if ours.weight is None:  # affine-free LayerNorm (norm1, norm2): nothing to copy
        return peer
    peer = peer.to(ours.weight.device)
    with torch.no_grad():  # its buffers are fp32, as its from_rmsnorm / from_layernorm leave them
        peer.weight.copy_(ours.weight.float())
        if getattr(ours, "bias", None) is not None:
            peer.bias.copy_(ours.bias.float())
    return peer


def swap_in_peer(model: WanDiT, kernels: PeerKernels) -> dict[str, int]:
    """Replace, in place, every block's self-attention op, Int8Linear and norm by the official ones.

    ``model`` must already run the ``sla`` backend and be W8A8-quantised (``quantize_(model, Int8Config())``).
    Turns our fused block path off (the peer's norms are separate kernels). Returns how many modules of
    each kind were swapped. Raises ValueError when the model is not in that state.
    """
    backend = model.attention_config.backend
    if backend != "sla":
        raise ValueError(f"the peer row needs a model built with the 'sla' backend (got {backend!r})")
    model.enable_fused_ops(False)
    counts = {"attention": 0, "int8_linear": 0, "norm": 0}
    for block in model.blocks:
        if not isinstance(block, WanBlock):
            raise ValueError(f"unexpected block type {type(block).__name__}")
        attn = block.self_attn
        attn.attn_op = _peer_sla(attn.attn_op, kernels, attn.head_dim)
        counts["attention"] += 1
        for parent in list(block.modules()):
            for name, child in list(parent.named_children()):
                if isinstance(child, Int8Linear):
                    setattr(parent, name, PeerInt8Linear(child, kernels.int8_linear))
                    counts["int8_linear"] += 1
                elif isinstance(child, WanLayerNorm | WanRMSNorm):
                    setattr(parent, name, _peer_norm(child, kernels))
                    counts["norm"] += 1
    if counts["int8_linear"] == 0:
        raise ValueError("the model has no Int8Linear: quantize_(model, Int8Config()) before the peer swap")
    return counts


__all__ = ["PeerKernels", "PeerUnavailable", "load_peer", "swap_in_peer"]
