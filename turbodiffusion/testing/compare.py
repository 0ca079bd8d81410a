"""Error metrics between an output and its reference, computed in float64."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from . import tolerances


def rel_l2(out: Tensor, ref: Tensor) -> float:
    """||out - ref||_2 / ||ref||_2 in float64 (0 when both are zero)."""
    o, r = out.detach().double().cpu(), ref.detach().double().cpu()
    den = r.norm().item()
    num = (o - r).norm().item()
    return num / den if den > 0 else num


def max_abs(out: Tensor, ref: Tensor) -> float:
    return (out.detach().double().cpu() - ref.detach().double().cpu()).abs().max().item()


def max_rel(out: Tensor, ref: Tensor) -> float:
    """max |out - ref| / max |ref| (STYLE.md's kernel metric)."""
    r = ref.detach().double().cpu()
    scale = r.abs().max().item()
    return max_abs(out, ref) / scale if scale > 0 else max_abs(out, ref)


def cosine(out: Tensor, ref: Tensor) -> float:
    o, r = out.detach().double().cpu().flatten(), ref.detach().double().cpu().flatten()
    return torch.nn.functional.cosine_similarity(o, r, dim=0).item()


def rel_l1(out: Tensor, ref: Tensor) -> float:
    o, r = out.detach().double().cpu(), ref.detach().double().cpu()
    return ((o - r).abs().sum() / r.abs().sum().clamp_min(1e-300)).item()


def sqnr_db(out: Tensor, ref: Tensor) -> float:
    """Signal-to-quantisation-noise ratio in dB."""
    o, r = out.detach().double().cpu(), ref.detach().double().cpu()
    noise = (o - r).pow(2).sum().item()
    return float("inf") if noise == 0 else 10 * torch.log10(r.pow(2).sum() / noise).item()


@dataclass(frozen=True)
class Report:
    rel_l2: float
    max_abs: float
    cosine: float

    @classmethod
    def of(cls, out: Tensor, ref: Tensor) -> Report:
        return cls(rel_l2(out, ref), max_abs(out, ref), cosine(out, ref))


def assert_matches(out: Tensor, truth: Tensor, *, eager: Tensor | None = None, dtype: torch.dtype) -> None:
    """Assert a kernel output matches its fp32 truth (STYLE.md §3 error-ratio rule).

    fp32: max_rel <= KERNEL_FP32_REL_MAX. Low precision: max_rel <= max(2 x eager's max_rel, floor),
    where ``eager`` is the reference run in the same low precision.
    """
    assert out.shape == truth.shape, f"shape {tuple(out.shape)} != {tuple(truth.shape)}"
    assert torch.isfinite(out.float()).all(), "output has NaN or inf"
    err = max_rel(out, truth)
    if dtype == torch.float32:
        bound = tolerances.KERNEL_FP32_REL_MAX
    else:
        eager_err = max_rel(eager, truth) if eager is not None else 0.0
        bound = tolerances.lowp_bound(dtype, eager_err)
    assert err <= bound, f"max rel error {err:.3e} > bound {bound:.3e} ({dtype})"


def assert_e4m3_codes_close(codes: Tensor, ref: Tensor, *, moved_max: float = 0.01) -> None:
    """Assert e4m3 codes sit within one grid step of the reference's codes (a value that a kernel's last
    fp32 bits move across a rounding tie) and that at most ``moved_max`` of them moved at all.

    The step at a code's magnitude is 2^(e-3), and 2^-9 below the normal range (|code| < 2^-6).
    """
    assert codes.shape == ref.shape, f"shape {tuple(codes.shape)} != {tuple(ref.shape)}"
    step = torch.exp2(torch.floor(torch.log2(ref.float().abs().clamp_min(2.0**-6))) - 3)
    diff = (codes.cpu().float() - ref.cpu().float()).abs()
    assert (diff <= step.cpu()).all(), "a code is more than one grid step from the reference"
    assert (diff > 0).float().mean() < moved_max, f"more than {moved_max:.0%} of the codes moved"
