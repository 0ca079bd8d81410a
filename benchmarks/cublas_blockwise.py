"""Our FP8 W8A8 format through cuBLASLt: ``torch.nn.functional.scaled_mm`` with 1x128 activation scales and
128x128 weight scales, the library peer of our Triton block-scaled GEMM (benchmarks/linear.py times it).

The format is the one ``Fp8Linear`` holds (quantization.md §8 with FP8 e4m3 codes): activation codes
[M, K] with one scale per row and 128-wide K slice ([M, K/128]), weight codes [N, K] with one scale per
128x128 block ([N/128, K/128]); every scale decodes (value = code x scale). Which memory layout of the two
scale tensors cuBLASLt reads is not in torch's docstring, so ``probe_blockwise_fp8`` tries each plausible
one once, keeps the first whose output passes the caller's check (the check our own kernel passes), and
reports every attempt: a layout that runs but reads the scales wrongly fails the check, not the run.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import product

import torch
from torch import Tensor

# (out [M, N] in bf16) = mm(a codes [M, K], b codes transposed [K, N], a scales, b scales); bias apart.
BlockwiseMM = Callable[[Tensor, Tensor, Tensor, Tensor], Tensor]


def torch_blockwise_mm(a: Tensor, b_t: Tensor, scale_a: Tensor, scale_b: Tensor) -> Tensor:
    """cuBLASLt's block-scaled FP8 GEMM through torch (BlockWise1x128 x BlockWise128x128), bf16 out."""
    F = torch.nn.functional
    return F.scaled_mm(
        a,
        b_t,
        scale_a,
        F.ScalingType.BlockWise1x128,
        scale_b,
        F.ScalingType.BlockWise128x128,
        output_dtype=torch.bfloat16,
    )


def scale_layouts(xs: Tensor, ws: Tensor) -> list[tuple[str, Tensor, Tensor]]:
    """(name, activation scales, weight scales) for each distinct memory layout worth trying.

    xs: [M, K/128] float32, any strides; ws: [N/128, K/128] float32. The activation scales come as
    [M, K/128] row-major or K-major (column-major, the layout our FP8 quantiser writes); the weight scales
    as [N/128, K/128] row-major, or as [K/128, N/128] (the transposed view, or that made contiguous), since
    the GEMM takes the weight transposed.
    """
    a_options = {
        "a row-major": xs.contiguous(),
        "a K-major": xs.t().contiguous().t(),
    }
    b_options = {
        "b [N/128, K/128]": ws.contiguous(),
        "b [K/128, N/128] view": ws.t(),
        "b [K/128, N/128] contiguous": ws.t().contiguous(),
    }
    return [(f"{na}, {nb}", sa, sb) for (na, sa), (nb, sb) in product(a_options.items(), b_options.items())]


def probe_blockwise_fp8(
    xq: Tensor,
    xs: Tensor,
    wq: Tensor,
    ws: Tensor,
    bias: Tensor | None,
    check: Callable[[Tensor], tuple[bool, dict]],
    mm: BlockwiseMM = torch_blockwise_mm,
) -> tuple[Callable[[], Tensor] | None, dict]:
    """Find a scale layout under which ``mm`` computes our FP8 linear; returns (the linear, report).

    xq [M, K] / wq [N, K]: float8_e4m3fn codes; xs [M, K/128] / ws [N/128, K/128]: float32 scales; bias
    [N] or None, added to the bf16 product afterwards as the reference adds it. check(out [M, N] bf16)
    -> (ok, details) judges one output. The linear is None when no layout ran and passed; the report
    names the layout kept and lists every attempt (its error, or its check details).
    """
    attempts: list[dict] = []
    b_t = wq.t()  # [K, N], column-major: the operand layout cuBLASLt's FP8 GEMM takes

    for name, sa, sb in scale_layouts(xs, ws):

        def linear(sa: Tensor = sa, sb: Tensor = sb) -> Tensor:
            out = mm(xq, b_t, sa, sb)
            return out if bias is None else out + bias.to(out.dtype)

        try:
            out = linear()
        except (RuntimeError, ValueError, TypeError, AttributeError, NotImplementedError) as err:
            attempts.append({"layout": name, "error": f"{type(err).__name__}: {err}"[:300]})
            continue
        ok, details = check(out)
        attempts.append({"layout": name, "ok": ok, **details})
        if ok:
            return linear, {"layout": name, "attempts": attempts}
    return None, {"layout": None, "attempts": attempts}
