"""benchmarks/cublas_blockwise.py: the scale-layout probe keeps the first layout whose output passes the
check, skips layouts that raise or that read the scales wrongly, and reports every attempt. The GEMM is
a stand-in on the CPU (cuBLASLt's runs on the GPU only) built on our reference."""

from __future__ import annotations

import torch

from turbodiffusion.quant.act_quant import quantize_blockwise_reference
from turbodiffusion.quant.gemm import scaled_mm_reference
from turbodiffusion.testing.compare import max_rel

from ._load import load_benchmark

blockwise = load_benchmark("cublas_blockwise")

M, N, K = 200, 256, 384  # ragged M; N and K whole 128-blocks, as the format needs


def _operands():
    g = torch.Generator().manual_seed(0)
    x = torch.randn(M, K, generator=g)
    w = torch.randn(N, K, generator=g) * K**-0.5
    bias = torch.randn(N, generator=g).to(torch.bfloat16)
    xq, xs = quantize_blockwise_reference(x, 1, "fp8")
    wq, ws = quantize_blockwise_reference(w, 128, "fp8")
    return xq, xs, wq, ws, bias


def _check(xq, xs, wq, ws, bias):
    truth = scaled_mm_reference(xq, xs, wq, ws, bias, out_dtype=torch.float32, a_tile_rows=1)

    def check(out):
        err = max_rel(out, truth)
        return err < 1e-2, {"max_rel": err}

    return check


def _mm_reading(wanted_b_shape, *, b_contiguous):
    """A GEMM that takes weight scales only as ``wanted_b_shape`` and reads them as [N/128, K/128]."""

    def mm(a, b_t, sa, sb):
        if tuple(sb.shape) != wanted_b_shape or sb.is_contiguous() != b_contiguous:
            raise RuntimeError(f"scale_b must be {wanted_b_shape} (got {tuple(sb.shape)})")
        ws = sb if sb.shape[0] == N // 128 else sb.t()
        return scaled_mm_reference(a, sa, b_t.t(), ws, None, out_dtype=torch.bfloat16, a_tile_rows=1)

    return mm


def test_probe_keeps_the_first_layout_that_runs_and_passes():
    xq, xs, wq, ws, bias = _operands()
    mm = _mm_reading((K // 128, N // 128), b_contiguous=True)
    linear, report = blockwise.probe_blockwise_fp8(xq, xs, wq, ws, bias, _check(xq, xs, wq, ws, bias), mm)
    assert report["layout"] == "a row-major, b [K/128, N/128] contiguous"
    assert [a["layout"] for a in report["attempts"]] == [
        "a row-major, b [N/128, K/128]",
        "a row-major, b [K/128, N/128] view",
        "a row-major, b [K/128, N/128] contiguous",
    ]
    assert all("error" in a for a in report["attempts"][:2]) and report["attempts"][2]["ok"]
    expected = scaled_mm_reference(xq, xs, wq, ws, bias, out_dtype=torch.bfloat16, a_tile_rows=1)
    assert torch.equal(linear(), expected)  # bias added after the product, as the reference adds it


def test_a_layout_that_runs_but_reads_the_scales_wrongly_is_rejected():
    xq, xs, wq, ws, bias = _operands()

    def transposing_mm(a, b_t, sa, sb):
        # Runs on every layout, right only when given [K/128, N/128]: [N/128, K/128] scales get their
        # bytes read in that order, the wrong block's scale for most blocks.
        right = tuple(sb.shape) == (K // 128, N // 128)
        ws_read = sb.t() if right else sb.flatten().reshape(K // 128, N // 128).t()
        return scaled_mm_reference(a, sa, b_t.t(), ws_read.contiguous(), None, a_tile_rows=1)

    _, report = blockwise.probe_blockwise_fp8(
        xq, xs, wq, ws, bias, _check(xq, xs, wq, ws, bias), transposing_mm
    )
    first = report["attempts"][0]
    assert first["layout"] == "a row-major, b [N/128, K/128]" and not first["ok"]
    assert report["layout"] == "a row-major, b [K/128, N/128] view"


def test_no_layout_passes_gives_none_and_every_attempt():
    xq, xs, wq, ws, bias = _operands()

    def broken(a, b_t, sa, sb):
        raise NotImplementedError("no blockwise FP8 GEMM on this device")

    linear, report = blockwise.probe_blockwise_fp8(xq, xs, wq, ws, None, _check(xq, xs, wq, ws, None), broken)
    assert linear is None and report["layout"] is None
    assert len(report["attempts"]) == len(blockwise.scale_layouts(xs, ws)) == 6
    assert all(a["error"].startswith("NotImplementedError") for a in report["attempts"])
