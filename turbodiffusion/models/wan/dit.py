"""The Wan2.1 / Wan2.2 diffusion transformer (shared/docs/models.md §1-4).

Design choices, each deliberate:
- Module and parameter names are the official Wan ones (models.md §2): they are our checkpoint contract.
  The patch embedding is a Linear over flattened (c, kt, kh, kw) patches, TurboDiffusion's layout; the
  loader reshapes the official Conv3d weight into it.
- Precision follows models.md §1 "Precision". The sinusoid is computed in float64; the time MLP and
  projection, the modulation sums, every norm's statistics, the ``(1 + scale) * . + shift`` products, RoPE
  and the whole head run in float32 (float64 for a float64 model); everything else, the residual stream
  included, runs in the weights' dtype. The gates are cast to that dtype before ``x + y * gate``, as
  TurboDiffusion does (official Wan would promote the stream to float32 instead).
- Self-attention runs on the backend chosen by an AttentionConfig (attention/registry.py), on q, k, v of
  layout [B, L, H, D] after RMSNorm and RoPE; cross-attention is always dense (attention.md: only
  self-attention is sparse) and has its own SDPA module.
- The text context's padding is part of the model (every zero row past the prompt is attended to) but is
  not computed row by row: a context shorter than text_len gets a few zero rows whose logits carry the
  weight of the rows they stand for (text_padding), exact to rounding, so a context trimmed to its prompts
  costs the cross-attention Lt + a few keys instead of text_len. A full context runs unchanged.
- No buffers and no caches: RoPE angles are rebuilt per forward, so ``with torch.device("meta")`` builds
  a model that allocates nothing, ready for ``load_state_dict(assign=True)``. What a sampler may reuse
  across its steps (the text's cross-attention k and v) lives in a ``TextContextCache`` that the caller
  owns and passes as the context.
- Ulysses sequence parallelism (sampling-and-training.md §7) is opt-in through
  ``WanDiT.enable_sequence_parallel(group)``: forward is the same method with one shard step after
  patchify and one gather before unpatchify; nothing rebinds ``forward``.
- Fused norm ops are opt-in through ``WanDiT.enable_fused_ops()`` (the engineering path of the Turbo
  benchmark): LayerNorm + modulation, RMSNorm and the gated residual go through the ``ops`` dispatchers
  (Triton on CUDA, their fp32 references on CPU), each rounding once instead of two or three times, the
  attention residual updates run inside the next norm's kernel (``ops.residual_norm_modulate``), and
  a plain-Linear FFN applies its GELU in the up-projection's GEMM (``ops.linear_gelu``). With Fp8RowLinear
  layers (quantize_ with Fp8RowConfig) the norm kernels write their output as e4m3 codes with row scales
  (``norm_modulate_fp8``) and the FFN's GELU runs in the down-projection's row quantiser, so no extra pass
  quantises those activations. The head's norm and fp32 modulation are one pass too
  (``ops.head_norm_modulate``), keeping the head's rounding of the norm to the stream's dtype, so it is the
  plain head's arithmetic. The plain path stays the default so the golden fixtures stay exact.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import Tensor, nn

from ...attention import AttentionConfig, build_attention
from ...attention.ulysses import UlyssesAttention
from ...ops.gated_residual import gated_residual
from ...ops.linear_gelu import linear_gelu
from ...ops.norm_modulate import head_norm_modulate, norm_modulate, norm_modulate_fp8, residual_norm_modulate
from ...ops.rms_norm import rms_norm
from ...ops.rms_norm_rope import rms_norm_rope
from ...quant.fp8_row_linear import Fp8RowLinear
from ...quant.row_quant import RowQuantized, quantize_rows
from .config import WanDiTConfig
from .rope import apply_rope, rope_angles
from .text_cache import TextContextCache
from .text_padding import key_bias, padding_biases

# Frequency base of the sinusoidal timestep embedding (models.md §1 step 2).
_TIME_THETA = 10000.0


def _compute_dtype(dtype: torch.dtype) -> torch.dtype:
    """The dtype of the high-precision islands: float32, or float64 when the model itself is float64."""
    return torch.promote_types(dtype, torch.float32)


def _linear_in(layer: nn.Linear, x: Tensor) -> Tensor:
    """``layer(x)`` with the layer's weights cast to x's dtype (float32 islands of a bf16 model)."""
    bias = None if layer.bias is None else layer.bias.to(x.dtype)
    return F.linear(x, layer.weight.to(x.dtype), bias)


def _reads_fp8_rows(*linears: nn.Module) -> bool:
    """True when every one of ``linears`` is an Fp8RowLinear: their shared input can then come from the
    norm kernel already quantised (RowQuantized) instead of in the stream's dtype."""
    return all(isinstance(m, Fp8RowLinear) for m in linears)


def _divisors(n: int) -> list[int]:
    return [d for d in range(1, n + 1) if n % d == 0]


def _gather_tokens(x: Tensor, group: dist.ProcessGroup) -> Tensor:
    """[B, Ls, C] token shard -> [B, P*Ls, C], shards concatenated in group-rank order."""
    x = x.contiguous()
    # torch.empty, not empty_like: the collective fills each part as flat memory, so the parts must be
    # contiguous whatever strides a caller's tensor had.
    parts = [torch.empty(x.shape, dtype=x.dtype, device=x.device) for _ in range(dist.get_world_size(group))]
    dist.all_gather(parts, x, group=group)
    return torch.cat(parts, dim=1)


def _reduce_scatter_tokens(grad: Tensor, group: dist.ProcessGroup) -> Tensor:
    """[B, P*Ls, C] -> [B, Ls, C]: this rank's token shard of the sum of ``grad`` over the group.

    An all-to-all then a local sum rather than ``reduce_scatter_tensor``: gloo (the CPU backend the tests
    use) has no reduce-scatter, and the all-to-all moves the same bytes.
    """
    P = dist.get_world_size(group)
    B, L, C = grad.shape
    chunks = grad.reshape(B, P, L // P, C).permute(1, 0, 2, 3).contiguous()  # dim 0 = destination rank
    got = torch.empty(chunks.shape, dtype=chunks.dtype, device=chunks.device)
    dist.all_to_all_single(got, chunks, group=group)  # dim 0 = source rank, all for this rank's shard
    return got.sum(dim=0)


class _GatherTokens(torch.autograd.Function):
    """Differentiable all-gather of token shards along L.

    Every rank's output is used by a loss, so the adjoint sums the output gradients of all ranks for
    each shard (a reduce-scatter, as ``torch.distributed.nn.functional.all_gather`` does); the gather is
    linear, so its JVP gathers the tangents.
    """

    @staticmethod
    def forward(x: Tensor, group: dist.ProcessGroup) -> Tensor:
        return _gather_tokens(x, group)

    @staticmethod
    def setup_context(ctx, inputs, output) -> None:
        ctx.group = inputs[1]

    @staticmethod
    def backward(ctx, grad: Tensor):
        return _reduce_scatter_tokens(grad, ctx.group), None

    @staticmethod
    def jvp(ctx, tangent: Tensor, _group) -> Tensor:
        return _gather_tokens(tangent, ctx.group)


def timestep_embedding(t: Tensor, dim: int) -> Tensor:
    """Sinusoidal embedding ``[cos(t w_k), sin(t w_k)]``, ``w_k = 10000^(-k/(dim/2))``: cos half first.

    t: [B], any real dtype, on the 0..1000 scale. Returns [B, dim] float64.
    """
    half = dim // 2
    # float64 on purpose: the reference builds the sinusoid in float64 from the (possibly bf16-rounded)
    # timestep; at t ~ 1000 float32 phases would already be off by ~1e-4 rad.
    t = t.to(torch.float64)
    freqs = torch.pow(_TIME_THETA, -torch.arange(half, dtype=torch.float64, device=t.device) / half)
    phases = torch.outer(t, freqs)
    return torch.cat([torch.cos(phases), torch.sin(phases)], dim=1)


def patchify(x: Tensor, patch_size: tuple[int, int, int]) -> Tensor:
    """[B, C, F, h, w] -> tokens [B, L, C*pt*ph*pw], L = (F/pt)(h/ph)(w/pw), tokens row-major (w fastest).

    Each token's vector is ordered (c, kt, kh, kw) with kw fastest: channel-major, like the flattened
    official Conv3d weight. Sizes must be multiples of the patch (the caller checks).
    """
    B, C, Fr, h, w = x.shape
    pt, ph, pw = patch_size
    x = x.reshape(B, C, Fr // pt, pt, h // ph, ph, w // pw, pw)
    x = x.permute(0, 2, 4, 6, 1, 3, 5, 7)  # [B, F', h', w', C, pt, ph, pw]
    return x.reshape(B, (Fr // pt) * (h // ph) * (w // pw), C * pt * ph * pw)


def unpatchify(
    tokens: Tensor, grid: tuple[int, int, int], patch_size: tuple[int, int, int], channels: int
) -> Tensor:
    """Tokens [B, L, pt*ph*pw*C] -> [B, C, F'pt, h'ph, w'pw] for grid = (F', h', w').

    Each token's vector is ordered (kt, kh, kw, c) with c fastest: channel-minor, the opposite of
    ``patchify`` (models.md §1 step 6); the head's weights are trained for this order.
    """
    B = tokens.shape[0]
    gf, gh, gw = grid
    pt, ph, pw = patch_size
    x = tokens.reshape(B, gf, gh, gw, pt, ph, pw, channels)
    x = x.permute(0, 7, 1, 4, 2, 5, 3, 6)  # [B, C, F', pt, h', ph, w', pw]
    return x.reshape(B, channels, gf * pt, gh * ph, gw * pw)


class WanLayerNorm(nn.Module):
    """LayerNorm over the last dim with float32 statistics; ``affine`` adds weight and bias [dim].

    x: [B, L, dim]. Returns the same shape in x's dtype.
    """

    def __init__(self, dim: int, eps: float, affine: bool) -> None:
        super().__init__()
        self.dim, self.eps = dim, eps
        self.weight = nn.Parameter(torch.ones(dim)) if affine else None
        self.bias = nn.Parameter(torch.zeros(dim)) if affine else None
        self.fused_ops = False  # set by WanDiT.enable_fused_ops: one ops.norm_modulate call instead

    def forward(self, x: Tensor) -> Tensor:
        if self.fused_ops:
            return norm_modulate(x, weight=self.weight, bias=self.bias, eps=self.eps)
        compute = _compute_dtype(x.dtype)
        weight = None if self.weight is None else self.weight.to(compute)
        bias = None if self.bias is None else self.bias.to(compute)
        return F.layer_norm(x.to(compute), (self.dim,), weight, bias, self.eps).to(x.dtype)


class WanRMSNorm(nn.Module):
    """RMSNorm over the whole width (not per head): ``(x / rms(x)).to(x.dtype) * weight``.

    x: [B, L, dim]. The statistics are float32; the scale multiplies after the cast back, as in the
    reference, so a bf16 model returns bf16.
    """

    def __init__(self, dim: int, eps: float) -> None:
        super().__init__()
        self.eps = eps
        self.weight = nn.Parameter(torch.ones(dim))
        # Set by WanDiT.enable_fused_ops: ops.rms_norm, which applies the weight in fp32 before its single
        # cast (one rounding fewer than this plain path).
        self.fused_ops = False

    def forward(self, x: Tensor) -> Tensor:
        if self.fused_ops:
            return rms_norm(x, self.weight, self.eps)
        xf = x.to(_compute_dtype(x.dtype))
        normed = xf * torch.rsqrt(xf.pow(2).mean(dim=-1, keepdim=True) + self.eps)
        return normed.to(x.dtype) * self.weight


class WanSelfAttention(nn.Module):
    """q, k, v projections, RMSNorm on q and k, 3D RoPE, the configured attention backend, output projection.

    q, k and v stay three GEMMs: as one FP8 GEMM of 3 x dim outputs they were 3.5% faster at 1.3B-480p and 18%
    slower at 14B on an H100 (cuBLAS's kernel for the wide product; benchmarks/runs/gpu-2026-12-06e).
    """

    def __init__(self, dim: int, num_heads: int, eps: float, attention: AttentionConfig) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = WanRMSNorm(dim, eps)
        self.norm_k = WanRMSNorm(dim, eps)
        self.attn_op = build_attention(attention, self.head_dim)
        # Set by WanDiT.enable_fused_ops: the q/k RMSNorm and RoPE as one kernel each (ops.rms_norm_rope),
        # reading and writing q and k once instead of through fp32 temporaries.
        self.fused_ops = False

    def forward(self, x: Tensor | RowQuantized, cos: Tensor, sin: Tensor) -> Tensor:
        """x: [B, L, dim] (or its RowQuantized form when q, k and v are Fp8RowLinear); cos, sin: [L, D/2].
        Returns [B, L, dim] in x's dtype."""
        heads = (self.num_heads, self.head_dim)
        v = self.v(x).unflatten(-1, heads)
        if self.fused_ops:
            q = rms_norm_rope(self.q(x), self.norm_q.weight, cos, sin, self.num_heads, self.norm_q.eps)
            k = rms_norm_rope(self.k(x), self.norm_k.weight, cos, sin, self.num_heads, self.norm_k.eps)
        else:
            q = apply_rope(self.norm_q(self.q(x)).unflatten(-1, heads), cos, sin)
            k = apply_rope(self.norm_k(self.k(x)).unflatten(-1, heads), cos, sin)
        # Under autocast v is the autocast dtype while the RMSNorm'd q and k follow the fp32 norm weights;
        # SLA / Sage kernels take one dtype, so q and k join v's (a no-op without autocast).
        q, k = q.to(v.dtype), k.to(v.dtype)
        out = self.attn_op(q, k, v)  # [B, L, H, D]
        return self.o(out.flatten(2))


class WanCrossAttention(nn.Module):
    """Attention from the video tokens to the text context: RMSNorm on q and k, no RoPE, no mask, dense.

    The padding of a short context is attended to as a few weighted keys (``key_bias``, models.wan.
    text_padding): the same attention as over all text_len rows, over Lt + a few keys.
    """

    def __init__(self, dim: int, num_heads: int, eps: float) -> None:
        super().__init__()
        self.num_heads = num_heads
        self.head_dim = dim // num_heads
        self.q = nn.Linear(dim, dim)
        self.k = nn.Linear(dim, dim)
        self.v = nn.Linear(dim, dim)
        self.o = nn.Linear(dim, dim)
        self.norm_q = WanRMSNorm(dim, eps)
        self.norm_k = WanRMSNorm(dim, eps)
        # Always dense: only self-attention is sparsified, and the text is a few dozen keys (text_padding).
        self.attn_op = build_attention(AttentionConfig(backend="sdpa"), self.head_dim)

    def keys_values(self, context: Tensor | RowQuantized) -> tuple[Tensor, Tensor]:
        """context: [B, Lt, dim] (already text-embedded; RowQuantized when k and v are Fp8RowLinear).
        Returns k (after its RMSNorm) and v [B, Lt, H, D]: all the cross-attention derives from the text,
        the same at every denoising step (models.wan.text_cache)."""
        heads = (self.num_heads, self.head_dim)
        return self.norm_k(self.k(context)).unflatten(-1, heads), self.v(context).unflatten(-1, heads)

    def forward(
        self, x: Tensor | RowQuantized, kv: tuple[Tensor, Tensor], key_bias: Tensor | None = None
    ) -> Tensor:
        """x: [B, L, dim] (or its RowQuantized form when q is an Fp8RowLinear); kv: ``keys_values``'s, k and
        v [B, Lk, H, D]; key_bias: [Lk] added to every query's logit of each key (text_padding.key_bias), or
        None. Returns [B, L, dim]."""
        q = self.norm_q(self.q(x)).unflatten(-1, (self.num_heads, self.head_dim))
        return self.o(self.attn_op(q, *kv, key_bias=key_bias).flatten(2))


@dataclass(frozen=True)
class PendingResidual:
    """A block's last residual update, x + y * gate, left for the next block's norm1 to apply.

    Fused path only (``WanBlock.forward(..., defer_ffn=True)``): the next block's LayerNorm kernel adds it
    while normalising (``ops.residual_norm_modulate``), which saves one pass over the stream and one launch a
    block. x: [B, L, dim] stream before the update; y: [B, L, dim] the FFN's output, x's dtype; gate:
    [B, 1, dim] float32.
    """

    x: Tensor
    y: Tensor
    gate: Tensor

    def resolve(self) -> Tensor:
        """The updated stream [B, L, dim] in x's dtype (``ops.gated_residual``, one rounding)."""
        return gated_residual(self.x, self.y, self.gate)


class WanBlock(nn.Module):
    """One transformer block (models.md §1 step 4): modulated self-attention, cross-attention, modulated FFN."""

    def __init__(self, config: WanDiTConfig, attention: AttentionConfig) -> None:
        super().__init__()
        dim = config.dim
        # [1, 6, dim]: shift/scale/gate for self-attention, then for the FFN; added to the time projection.
        self.modulation = nn.Parameter(torch.zeros(1, 6, dim))
        self.norm1 = WanLayerNorm(dim, config.eps, affine=False)
        self.self_attn = WanSelfAttention(dim, config.num_heads, config.eps, attention)
        self.norm3 = WanLayerNorm(dim, config.eps, affine=True)
        self.cross_attn = WanCrossAttention(dim, config.num_heads, config.eps)
        self.norm2 = WanLayerNorm(dim, config.eps, affine=False)
        self.ffn = nn.Sequential(
            nn.Linear(dim, config.ffn_dim), nn.GELU(approximate="tanh"), nn.Linear(config.ffn_dim, dim)
        )
        self.fused_ops = False  # set by WanDiT.enable_fused_ops: norm1/norm2 + modulation and gates fused

    def forward(
        self,
        x: Tensor | PendingResidual,
        e0: Tensor,
        context: Tensor | RowQuantized,
        cos: Tensor,
        sin: Tensor,
        *,
        defer_ffn: bool = False,
        text_cache: TextContextCache | None = None,
        text_bias: Tensor | None = None,
    ) -> Tensor | PendingResidual:
        """x: [B, L, dim] residual stream (weights' dtype), or the previous block's PendingResidual; e0:
        [B, 6, dim] float32 time projection; context: [B, Lt, dim] (RowQuantized when the cross-attention's
        k and v are Fp8RowLinear); cos, sin: [L, D/2] float32. Returns x's new value, same shape and dtype;
        with ``defer_ffn`` on the fused path, the FFN's update unapplied (a PendingResidual for the next
        block, or for the caller to ``resolve``). ``text_cache``: where this block's cross-attention k and v
        are read from, or stored on first use (then context is only read that once). ``text_bias``: the
        cross-attention's ``key_bias`` [Lk] over the context's rows and the padding's stand-ins
        (text_padding.key_bias), or None.
        """
        kv = text_cache.keys_values(self) if text_cache is not None else None
        if kv is None:
            kv = self.cross_attn.keys_values(context)
            if text_cache is not None:
                text_cache.store_keys_values(self, *kv)
        m = self.modulation.to(e0.dtype) + e0  # [B, 6, dim], float32
        shift_sa, scale_sa, gate_sa, shift_ffn, scale_ffn, gate_ffn = m.chunk(6, dim=1)
        if self.fused_ops:
            # Same steps as below, each a single kernel computing in fp32 and rounding once to x's dtype
            # (the plain path rounds LN(x) before modulating and y * gate before the add). Where every
            # reader of a norm's output is an Fp8RowLinear, the norm kernel writes it quantised instead.
            # Every residual update runs in the following norm's kernel (ops.residual_norm_modulate): the
            # new stream is written once and normalised from registers; the FFN's, with defer_ffn, in the
            # next block's norm1.
            attn, cross, n3 = self.self_attn, self.cross_attn, self.norm3
            quantize = _reads_fp8_rows(attn.q, attn.k, attn.v)
            if isinstance(x, PendingResidual):
                x, h = residual_norm_modulate(
                    x.x, x.y, x.gate, scale_sa, shift_sa, eps=self.norm1.eps, quantize=quantize
                )
            else:
                h = (norm_modulate_fp8 if quantize else norm_modulate)(
                    x, scale_sa, shift_sa, eps=self.norm1.eps
                )
            y = attn(h, cos, sin)
            x, h = residual_norm_modulate(
                x, y, gate_sa, weight=n3.weight, bias=n3.bias, eps=n3.eps, quantize=_reads_fp8_rows(cross.q)
            )
            x, h = residual_norm_modulate(
                x, cross(h, kv, text_bias), None, scale_ffn, shift_ffn, eps=self.norm2.eps,
                quantize=_reads_fp8_rows(self.ffn[0]),
            )  # fmt: skip
            pending = PendingResidual(x, self._fused_ffn(h), gate_ffn)
            return pending if defer_ffn else pending.resolve()
        if isinstance(x, PendingResidual):
            x = x.resolve()
        h = self.norm1(x).to(m.dtype) * (1 + scale_sa) + shift_sa
        x = x + self.self_attn(h.to(x.dtype), cos, sin) * gate_sa.to(x.dtype)
        x = x + self.cross_attn(self.norm3(x), kv, text_bias)  # no modulation, no gate
        h = self.norm2(x).to(m.dtype) * (1 + scale_ffn) + shift_ffn
        return x + self.ffn(h.to(x.dtype)) * gate_ffn.to(x.dtype)

    def _fused_ffn(self, h: Tensor | RowQuantized) -> Tensor:
        """The FFN with its up-projection and GELU as one GEMM (ops.linear_gelu) where it is a plain Linear;
        between Fp8RowLinear layers the GELU runs inside the down-projection's row quantiser."""
        up, down = self.ffn[0], self.ffn[2]
        if _reads_fp8_rows(up, down):
            hidden = up(h)  # [B, L, ffn_dim] in the stream's dtype
            codes, scale = quantize_rows(hidden.reshape(-1, hidden.shape[-1]), gelu=True, impl=down.impl)
            return down(RowQuantized(codes.view(hidden.shape), scale.view(hidden.shape[:-1]), hidden.dtype))
        if type(up) is not nn.Linear:
            # W8A8 linears keep their own GEMM: an INT8 GEMM with the GELU and the down-projection's
            # quantiser in its epilogue was slower than the three launches on an H200 (its fixed 128-row
            # tiles cost more than the passes it saved; benchmarks/runs/h200-2026-12-02f).
            return self.ffn(h)
        return down(linear_gelu(h, up.weight, up.bias))


class WanHead(nn.Module):
    """Final modulated LayerNorm and Linear to the patch outputs in float32 (models.md §1 step 5).

    As in the reference, the LayerNorm's output is first rounded to the stream's dtype (its statistics are
    float32); modulation and Linear then run in float32 on float32 copies of the weights. With
    ``norm.fused_ops`` set (WanDiT.enable_fused_ops) the norm, rounding and modulation are one
    ``ops.head_norm_modulate`` pass that writes the Linear's float32 input.
    """

    def __init__(self, dim: int, out_features: int, eps: float) -> None:
        super().__init__()
        self.modulation = nn.Parameter(torch.zeros(1, 2, dim))  # shift, scale; added to e (not e0)
        self.norm = WanLayerNorm(dim, eps, affine=False)
        self.head = nn.Linear(dim, out_features)

    def forward(self, x: Tensor, e: Tensor) -> Tensor:
        """x: [B, L, dim]; e: [B, dim] float32 time embedding. Returns [B, L, out_features] in e's dtype."""
        shift, scale = (self.modulation.to(e.dtype) + e[:, None, :]).chunk(2, dim=1)
        if self.norm.fused_ops:
            # One pass instead of the norm plus three float32 passes (cast, product, sum) over [B, L, dim].
            h = head_norm_modulate(x, scale, shift, eps=self.norm.eps)
        else:
            h = self.norm(x).to(e.dtype) * (1 + scale) + shift
        return _linear_in(self.head, h)


class WanDiT(nn.Module):
    """Wan2.1 T2V / Wan2.2 I2V DiT predicting the flow-matching velocity ``eps - x0`` of a latent video.

    ``attention`` picks the self-attention backend (default dense SDPA); with "sla" or "sagesla" each
    block also owns SLA's ``self_attn.attn_op.local_attn.proj_l``, as TurboWan checkpoints do.
    ``enable_sequence_parallel(group)`` spreads each forward's tokens over a process group (Ulysses).
    """

    def __init__(self, config: WanDiTConfig, attention: AttentionConfig | None = None) -> None:
        super().__init__()
        if not isinstance(config, WanDiTConfig):
            raise TypeError(f"config must be a WanDiTConfig (got {type(config).__name__}); see DIT_PRESETS")
        self.config = config
        self.attention_config = attention if attention is not None else AttentionConfig()
        c = config
        patch_volume = math.prod(c.patch_size)
        self.patch_embedding = nn.Linear(c.in_dim * patch_volume, c.dim)
        self.text_embedding = nn.Sequential(
            nn.Linear(c.text_dim, c.dim), nn.GELU(approximate="tanh"), nn.Linear(c.dim, c.dim)
        )
        self.time_embedding = nn.Sequential(nn.Linear(c.freq_dim, c.dim), nn.SiLU(), nn.Linear(c.dim, c.dim))
        self.time_projection = nn.Sequential(nn.SiLU(), nn.Linear(c.dim, 6 * c.dim))
        self.blocks = nn.ModuleList(WanBlock(c, self.attention_config) for _ in range(c.num_layers))
        self.head = WanHead(c.dim, c.out_dim * patch_volume, c.eps)
        # Sequence-parallel group (None: every rank runs the whole sequence). A plain attribute, not a
        # module or buffer: it holds no weights, and state_dict must not depend on the parallel layout.
        self._sp_group: dist.ProcessGroup | None = None

    @property
    def sequence_parallel_size(self) -> int:
        """Ranks the tokens of one forward are split over: 1 unless ``enable_sequence_parallel`` ran."""
        return 1 if self._sp_group is None else dist.get_world_size(self._sp_group)

    def enable_fused_ops(self, enabled: bool = True) -> None:
        """Route the blocks' norms, modulation, q/k norm + RoPE and gated residuals, and the head's norm and
        modulation, through the fused ``ops`` dispatchers.

        In place; ``enabled=False`` restores the plain path. The fused path computes each op in fp32 and
        rounds once to the stream's dtype, so a bf16 model's output moves by bf16 rounding (it is no less
        accurate against an fp32 model: tests/models/test_dit_fused.py); weights and state_dict are
        unchanged. On CUDA the ops run their Triton kernels, on CPU their fp32 references. The ops take
        fp32/bf16/fp16 streams only, so a float64 model raises ValueError here.
        """
        if not isinstance(enabled, bool):
            raise ValueError(f"enabled must be a bool (got {enabled!r}); use True or False")
        dtype = self.patch_embedding.weight.dtype
        if enabled and dtype not in (torch.float32, torch.bfloat16, torch.float16):
            raise ValueError(
                f"fused ops run float32, bfloat16 or float16 models (got {dtype}); convert the model with "
                f".to(torch.bfloat16) or keep the plain path"
            )
        for module in self.blocks.modules():
            if isinstance(module, (WanBlock, WanLayerNorm, WanRMSNorm, WanSelfAttention)):
                module.fused_ops = enabled
        self.head.norm.fused_ops = enabled  # WanHead.forward reads its norm's flag

    def enable_sequence_parallel(self, group: dist.ProcessGroup) -> None:
        """Ulysses sequence parallelism over ``group`` (P ranks; sampling-and-training.md §7), in place.

        Every self-attention's ``attn_op`` is wrapped in ``UlyssesAttention`` (all-to-all from token
        shards to head shards and back, around any backend), and forward then gives each rank the
        contiguous shard ``[r L/P, (r+1) L/P)`` of the L patch tokens and the matching RoPE rows; blocks
        and the head run on the shard (cross-attention locally on the query shard; the per-sample time
        modulation is computed whole on every rank), and the head's output is all-gathered before
        unpatchify, so every rank returns the whole velocity [B, out_dim, F, h, w].

        Contract: all P ranks call forward with identical x, timestep, context and y (same sample, time
        and noise). Gradients: the gather's adjoint sums the output gradients of all P ranks, so after
        backward of one loss per rank the *mean* over the group of each parameter's gradient equals the
        single-rank gradient; FSDP2 or DDP over a mesh that contains the group averages exactly so. The
        gather also has a JVP rule, and ``UlyssesAttention`` forwards tangents, so ``torch.func.jvp``
        works through the sharded model (rCM's student). With an SLA backend the learned ``proj_l``
        then sits under ``self_attn.attn_op.inner.`` (the wrapper's name for the backend).

        Raises ValueError when ``group`` is not a ProcessGroup, when sequence parallelism is already on,
        or when P does not divide ``num_heads`` (forward also raises when P does not divide L).
        """
        if not isinstance(group, dist.ProcessGroup):
            raise ValueError(
                f"group must be a torch.distributed ProcessGroup (got {type(group).__name__}); pass "
                f"dist.group.WORLD or a mesh group such as mesh.get_group('sp') after init_process_group"
            )
        if self._sp_group is not None:
            raise ValueError(
                f"sequence parallelism is already enabled (over {self.sequence_parallel_size} ranks); "
                f"call enable_sequence_parallel once per model"
            )
        heads, size = self.config.num_heads, dist.get_world_size(group)
        if heads % size:
            raise ValueError(
                f"sequence-parallel size {size} must divide num_heads={heads} (Ulysses splits the heads "
                f"over the group) and the token count L; valid sizes for {heads} heads: "
                f"{', '.join(map(str, _divisors(heads)))}"
            )
        for block in self.blocks:
            block.self_attn.attn_op = UlyssesAttention(block.self_attn.attn_op, group)
        self._sp_group = group

    def forward(
        self, x: Tensor, timestep: Tensor, context: Tensor | TextContextCache, y: Tensor | None = None
    ) -> Tensor:
        """Velocity prediction for one denoising step.

        x: [B, out_dim, F, h, w] noisy latent (16 channels); F, h, w multiples of the patch (1, 2, 2).
        timestep: [B] or [B, 1] on the 0..1000 scale, any real dtype (the sinusoid is taken in float64 of
            the value given: round it, e.g. to bf16, before the call when reproducing a bf16 reference).
        context: [B, Lt, text_dim] text encoder output, Lt <= text_len; shorter contexts are zero-padded
            to text_len as official Wan does (padded rows are attended to, so padding is part of the model):
            the padding is attended to as a few weighted rows (text_padding), so a context trimmed to its
            prompts (pipelines.text.encode_prompts) costs Lt + a few keys, not text_len.
            Or a ``TextContextCache`` of that tensor: the text embedding and every block's cross-attention
            k and v are then computed by the first forward with it and read by later ones (inference only).
        y: i2v only, [B, in_dim - out_dim, F, h, w] (mask + image latent), concatenated after x on channels.
        x, y and context are cast to the weights' dtype. Returns the velocity [B, out_dim, F, h, w] as
        computed by the float32 head: float32 for a bf16/fp16/fp32 model (float64 for a float64 one).
        Raises ValueError on any shape, rank or channel mismatch, before any compute; under sequence
        parallelism (``enable_sequence_parallel``) also when the group size does not divide the token count
        L = (F/pt)(h/ph)(w/pw). Every rank of the group then passes the same inputs and gets the whole output.
        """
        c = self.config
        text_cache = context if isinstance(context, TextContextCache) else None
        if text_cache is not None:
            self._check_text_cache(text_cache)
            context = text_cache.context
        self._check_inputs(x, timestep, context, y)
        dtype = self.patch_embedding.weight.dtype
        compute = _compute_dtype(dtype)
        x = x.to(dtype)
        if y is not None:
            x = torch.cat([x, y.to(dtype)], dim=1)
        B, _, frames, height, width = x.shape
        pt, ph, pw = c.patch_size
        grid = (frames // pt, height // ph, width // pw)

        # 1. Patchify and embed: [B, L, dim] in the weights' dtype ([B, L/P, dim], this rank's contiguous
        # token shard, under sequence parallelism).
        patches = patchify(x, c.patch_size)
        group = self._sp_group
        if group is not None:
            shard = self._token_shard(patches.shape[1])
            patches = patches[:, shard]
        tokens = self.patch_embedding(patches)

        # 2. Time embedding e [B, dim] and projection e0 [B, 6, dim], in float32 whatever the weights.
        emb = timestep_embedding(timestep.reshape(B).to(x.device), c.freq_dim).to(compute)
        e = _linear_in(self.time_embedding[2], F.silu(_linear_in(self.time_embedding[0], emb)))
        e0 = _linear_in(self.time_projection[1], F.silu(e)).unflatten(1, (6, c.dim))

        # 3. Text embedding of every context row, and of the zero rows standing for the padding (there is no
        # text mask): text_bias weights those rows as the text_len - Lt zero rows they stand for.
        biases = padding_biases(context.shape[1], c.text_len, dtype)
        text_bias = key_bias(context.shape[1], biases, dtype, x.device)
        embedded = text_cache.embedded if text_cache is not None else None
        if embedded is None:
            embedded = self._embed_context(context.to(dtype), len(biases))
            if text_cache is not None:
                text_cache.store_embedded(embedded)

        # 4. Blocks, with one RoPE table for all of them.
        angles = rope_angles(grid, c.head_dim, device=x.device)
        if group is not None:
            angles = angles[shard]  # RoPE positions stay global: the shard's own rows of the full table
        cos, sin = angles.cos().to(compute), angles.sin().to(compute)
        for block in self.blocks:
            # Fused blocks hand their FFN update to the next block's norm1 kernel (PendingResidual).
            tokens = block(
                tokens, e0, embedded, cos, sin, defer_ffn=block.fused_ops, text_cache=text_cache,
                text_bias=text_bias,
            )  # fmt: skip
        if isinstance(tokens, PendingResidual):
            tokens = tokens.resolve()

        # 5-6. Head in float32, then unpatchify (channel-minor). The head is per token, so under sequence
        # parallelism it runs on the shard and its (narrower than dim) output is what gets all-gathered.
        out = self.head(tokens, e)
        if group is not None:
            out = _GatherTokens.apply(out, group)
        return unpatchify(out, grid, c.patch_size, c.out_dim)

    def _embed_context(self, context: Tensor, appended: int) -> Tensor | RowQuantized:
        """context [B, Lt, text_dim] (weights' dtype) with ``appended`` zero rows (the padding's stand-ins)
        through the text MLP: [B, Lt + appended, dim] as the blocks' cross-attentions read it
        (``_shared_context``)."""
        if appended:
            context = F.pad(context, (0, 0, 0, appended))
        return self._shared_context(self.text_embedding(context))

    def _shared_context(self, context: Tensor) -> Tensor | RowQuantized:
        """The embedded context [B, Lt, dim] as the blocks' cross-attentions read it.

        Every block's k and v take this same tensor: where all of them are Fp8RowLinear (one impl), it is
        quantised once here, to the codes each layer would make itself, instead of twice in every block.
        """
        cross_kv = [m for block in self.blocks for m in (block.cross_attn.k, block.cross_attn.v)]
        if not (_reads_fp8_rows(*cross_kv) and len({m.impl for m in cross_kv}) == 1):
            return context
        codes, scale = quantize_rows(context.reshape(-1, context.shape[-1]), impl=cross_kv[0].impl)
        return RowQuantized(codes.view(context.shape), scale.view(context.shape[:-1]), context.dtype)

    def _check_text_cache(self, text_cache: TextContextCache) -> None:
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.parameters()):
            raise ValueError(
                "a TextContextCache is for inference: run the forward under torch.no_grad() (or "
                "torch.inference_mode()), or pass the context tensor itself when training"
            )
        text_cache.bind(self)

    def _token_shard(self, num_tokens: int) -> slice:
        """This rank's contiguous slice of the L tokens under sequence parallelism (L % P checked before)."""
        size = num_tokens // self.sequence_parallel_size
        rank = dist.get_rank(self._sp_group)
        return slice(rank * size, (rank + 1) * size)

    def _check_inputs(self, x: Tensor, timestep: Tensor, context: Tensor, y: Tensor | None) -> None:
        c = self.config
        if x.dim() != 5:
            raise ValueError(f"x must be a latent video [B, C, F, h, w] (got shape {tuple(x.shape)})")
        if not x.is_floating_point():
            raise ValueError(f"x must be a floating tensor (got {x.dtype})")
        B, C, frames, height, width = x.shape
        if C != c.out_dim:
            hint = f"; pass the {c.cond_dim} conditioning channels separately as y" if c.cond_dim else ""
            raise ValueError(f"x must have {c.out_dim} latent channels (got {C}){hint}")
        pt, ph, pw = c.patch_size
        if frames % pt or height % ph or width % pw:
            raise ValueError(
                f"latent frames, height and width must be multiples of the patch {c.patch_size} "
                f"(got F={frames}, h={height}, w={width}); with the (1, 2, 2) patch use even h and w "
                f"(pixel sizes multiples of 16, see check_video_shape)"
            )
        if c.model_type == "i2v":
            expected = (B, c.cond_dim, frames, height, width)
            if y is None:
                raise ValueError(
                    f"an i2v model needs y [B, {c.cond_dim}, F, h, w] (mask + image latent); got y=None"
                )
            if tuple(y.shape) != expected:
                raise ValueError(f"y must have shape {list(expected)} to match x (got {tuple(y.shape)})")
        elif y is not None:
            raise ValueError(
                f"a t2v model takes no y (got shape {tuple(y.shape)}); pass y=None or load an i2v model"
            )
        if tuple(timestep.shape) not in ((B,), (B, 1)):
            raise ValueError(f"timestep must be [B] or [B, 1] with B={B} (got shape {tuple(timestep.shape)})")
        if timestep.is_complex() or timestep.dtype == torch.bool:
            raise ValueError(f"timestep must be real on the 0..1000 scale (got {timestep.dtype})")
        if context.dim() != 3 or context.shape[0] != B or context.shape[2] != c.text_dim:
            raise ValueError(
                f"context must be [B, Lt, text_dim] = [{B}, Lt, {c.text_dim}] (got {tuple(context.shape)})"
            )
        if context.shape[1] > c.text_len:
            raise ValueError(
                f"context has {context.shape[1]} rows but the model takes at most text_len={c.text_len}; "
                f"truncate the prompt to {c.text_len} tokens"
            )
        size = self.sequence_parallel_size
        grid = (frames // pt, height // ph, width // pw)
        if size > 1 and math.prod(grid) % size:
            L = math.prod(grid)
            both = _divisors(math.gcd(L, c.num_heads))
            raise ValueError(
                f"sequence-parallel size {size} must divide the token count L = {grid[0]}*{grid[1]}*{grid[2]} "
                f"= {L} of this latent (and num_heads={c.num_heads}); sizes dividing both: "
                f"{', '.join(map(str, both))}; use one of them or a latent whose L is a multiple of {size}"
            )


__all__ = ["TextContextCache", "WanBlock", "WanDiT", "patchify", "timestep_embedding", "unpatchify"]
