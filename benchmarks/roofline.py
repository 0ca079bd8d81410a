"""FLOPs and bytes of one WanDiT forward, counted by formula, and its floor at measured ceilings.

Used by benchmarks/e2e.py for the roofline column of the ablation table. Shapes: L video tokens
(F h w / 4 for the (1, 2, 2) patch), Lt the text keys (``text_len``: all of them for a full context; a
trimmed one's rows plus the padding's stand-ins, models.wan.text_padding), dim model width, D head dim, H
heads, ffn the FFN width. Per block (models.md §1 step 4), GEMMs:

    self-attention q, k, v, o      4 x 2 L dim^2
    cross-attention q, o           2 x 2 L dim^2       k, v on the text: 2 x 2 Lt dim^2
    FFN                            2 x 2 L dim ffn
attention (QK^T and PV, 2 L L D each per head):
    dense self-attention           4 L^2 dim           (counted at topk x that for SLA / SageSLA)
    cross-attention                4 L Lt dim
SLA's extras (attention.md §2): its linear branch 4 L dim D, proj_l 2 L dim D, the pooled block map
2 (L/bq)(L/bk) dim. The sparse branch is counted on the keys it really keeps: each query attends
topk_count(topk, ceil(L/bk)) key blocks of bk keys (int(topk Nk), at least 1, as attention/sla/block_map.py
floors it), i.e. 4 L min(L, kept bk) dim instead of 4 L^2 dim. Outside the blocks: patch embedding, text
embedding, time MLP and projection (per sample), head.

Bytes are the least any implementation must move: every weight read once (2 bytes, 1 for the W8A8 block
linears), each GEMM's activation read once and its output written once in bf16, and q, k, v, o of each
attention read or written once; norms, modulation, RoPE and residual adds are assumed fused into the GEMMs
(so this floor is below what our unfused elementwise ops can reach, on purpose).

Floor of a forward: the GEMM FLOPs at the measured matmul ceiling (bf16, or int8 for W8A8), attention
FLOPs at the bf16 ceiling (SageSLA: Q.K^T at int8, P.V at fp8), plus, when larger, bytes at the measured
copy bandwidth: ``max(compute_s, bytes_s)``, as if one kernel overlapped everything.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from turbodiffusion.attention.sla.block_map import topk_count

ATTENTION_KINDS = ("sdpa", "sla", "sagesla")
# The ceiling (common.measure_ceilings key) each GEMM kind runs at. FP8 with fast accumulation (no periodic
# promotion to fp32) has its own: a 14B-720p forward's fast FP8 GEMMs ran at 1,556 TFLOP/s, above the plain
# FP8 ceiling measured beside them (1,268; benchmarks/runs/h200-2026-12-03f). Measured alone the fast
# ceiling is 1,244-1,336 TFLOP/s (h200-2026-12-03g), still below that: the fast rows' GEMM floors are not
# yet floors.
GEMM_CEILINGS = {
    "bf16": "bf16_tflops",
    "int8": "int8_tops",
    "fp8": "fp8_tflops",
    "fp8-fast": "fp8_fast_tflops",
}


@dataclass(frozen=True)
class ForwardCost:
    """Counted work of one DiT forward (batch 1)."""

    gemm_flops: float  # all linear layers
    attention_flops: float  # executed: dense, or topk x dense + SLA extras for sparse backends
    attention_dense_flops: float  # what dense attention would execute (the dense-equivalent count)
    bytes: float  # minimal traffic (module docstring)
    attention: str  # "sdpa", "sla" or "sagesla"
    gemm: str  # the block linears' GEMM: "bf16", "int8" (W8A8), "fp8" (FP8 W8A8) or "fp8-fast" (fast accum.)


def dit_forward_cost(
    *,
    dim: int,
    ffn_dim: int,
    num_heads: int,
    num_layers: int,
    tokens: int,
    text_len: int,
    text_dim: int,
    patch_in: int,
    patch_out: int,
    attention: str = "sdpa",
    topk: float = 1.0,
    block_q: int = 128,
    block_k: int = 64,
    gemm: str = "bf16",
    freq_dim: int = 256,
    text_cached: bool = False,
) -> ForwardCost:
    """Count one forward of a WanDiT at ``tokens`` = L video tokens (batch 1; see the module docstring).

    patch_in / patch_out: features of a patch in and out (in_dim x 4 and out_dim x 4 for the (1, 2, 2)
    patch). gemm: "bf16", or "int8" / "fp8" / "fp8-fast" for W8A8 block linears (1-byte weights, the GEMMs
    at that ceiling). text_cached: a later step's forward with a filled TextContextCache, which reads the
    text's cross-attention k and v instead of running the text MLP and the k and v projections. Raises
    ValueError on an unknown attention or GEMM kind, topk outside (0, 1], or a non-positive size.
    """
    if gemm not in GEMM_CEILINGS:
        raise ValueError(f"gemm must be one of {', '.join(GEMM_CEILINGS)} (got {gemm!r})")
    if attention not in ATTENTION_KINDS:
        raise ValueError(f"attention must be one of {', '.join(ATTENTION_KINDS)} (got {attention!r})")
    if not 0.0 < topk <= 1.0:
        raise ValueError(f"topk must be in (0, 1] (got {topk}); SLA uses 0.1, dense attention 1.0")
    sizes = dict(dim=dim, ffn_dim=ffn_dim, num_heads=num_heads, num_layers=num_layers, tokens=tokens,
                 text_len=text_len, text_dim=text_dim, patch_in=patch_in, patch_out=patch_out,
                 block_q=block_q, block_k=block_k, freq_dim=freq_dim)  # fmt: skip
    bad = [f"{k}={v}" for k, v in sizes.items() if not v > 0]
    if bad:
        raise ValueError(f"sizes must be positive (got {', '.join(bad)})")
    L, Lt, D = tokens, text_len, dim // num_heads
    wbytes = 2 if gemm == "bf16" else 1

    text = 0 if text_cached else 1  # the text MLP and the cross-attention k, v projections run or not
    block_gemm = (
        4 * 2 * L * dim * dim
        + 2 * 2 * L * dim * dim
        + text * 2 * 2 * Lt * dim * dim
        + 2 * 2 * L * dim * ffn_dim
    )
    time_mlp = 2 * freq_dim * dim + 2 * dim * dim + 2 * dim * 6 * dim  # one sample: embedding MLP, projection
    outer_gemm = (
        2 * L * patch_in * dim
        + text * 2 * Lt * (text_dim * dim + dim * dim)
        + 2 * L * dim * patch_out
        + time_mlp
    )
    gemm_flops = num_layers * block_gemm + outer_gemm

    dense_self = 4 * L * L * dim
    cross = 4 * L * Lt * dim
    if attention == "sdpa":
        self_exec = dense_self
    else:
        key_blocks = math.ceil(L / block_k)
        kept_keys = min(L, topk_count(topk, key_blocks) * block_k)
        blocks = math.ceil(L / block_q) * key_blocks
        self_exec = 4 * L * kept_keys * dim + 4 * L * dim * D + 2 * L * dim * D + 2 * blocks * dim
    attention_flops = num_layers * (self_exec + cross)
    attention_dense_flops = num_layers * (dense_self + cross)

    block_weights = (6 + 2 * text) * dim * dim + 2 * dim * ffn_dim
    outer_weights = (
        patch_in * dim
        + text * (text_dim * dim + dim * dim)
        + freq_dim * dim
        + 7 * dim * dim
        + dim * patch_out
    )
    weight_bytes = num_layers * block_weights * wbytes + 2 * outer_weights
    # Activations per block, bf16: GEMM inputs + outputs (q,k,v,o: 4 reads + 4 writes of L x dim; cross
    # q,o on L and k,v on Lt; FFN: L x dim in, L x ffn out and back), then attention q,k,v read + o written.
    gemm_io = 8 * L * dim + 4 * L * dim + text * 4 * Lt * dim + 2 * (L * dim + L * ffn_dim)
    attn_io = 4 * L * dim + 2 * L * dim + 2 * Lt * dim
    act_bytes = num_layers * 2 * (gemm_io + attn_io)
    return ForwardCost(
        gemm_flops=float(gemm_flops),
        attention_flops=float(attention_flops),
        attention_dense_flops=float(attention_dense_flops),
        bytes=float(weight_bytes + act_bytes),
        attention=attention,
        gemm=gemm,
    )


def floor_seconds(cost: ForwardCost, ceilings: dict[str, float]) -> float:
    """Least time of the forward at ``ceilings`` (bf16_tflops, int8_tops, fp8_tflops, copy_gbps: as
    common.measure_ceilings returns). Raises ValueError when a needed ceiling is missing or not positive."""
    need = ["bf16_tflops", "copy_gbps", GEMM_CEILINGS[cost.gemm]]
    need += ["int8_tops", "fp8_tflops"] if cost.attention == "sagesla" else []
    need = list(dict.fromkeys(need))
    bad = [k for k in need if not ceilings.get(k, 0) > 0]
    if bad:
        raise ValueError(
            f"ceilings lack positive {', '.join(bad)} (got {sorted(ceilings)}); measure them first"
        )
    tera = 1e12
    gemm_rate = ceilings[GEMM_CEILINGS[cost.gemm]] * tera
    compute = cost.gemm_flops / gemm_rate
    if cost.attention == "sagesla":
        # Half of the executed attention is Q.K^T (int8), half P.V (fp8), as SageSLA runs them.
        half = cost.attention_flops / 2
        compute += half / (ceilings["int8_tops"] * tera) + half / (ceilings["fp8_tflops"] * tera)
    else:
        compute += cost.attention_flops / (ceilings["bf16_tflops"] * tera)
    memory = cost.bytes / (ceilings["copy_gbps"] * 1e9)
    return max(compute, memory)
