"""Device sweep (2026-12-02h): launch settings of the row-wise FP8 quantiser and the quantising norm kernel.

    PYTHONPATH=. python benchmarks/runs/h200-2026-12-02h/device_scripts/rowquant_sweep.py OUT.json

Every setting's codes and scales must equal the default's (the settings change only the schedule).
"""

from __future__ import annotations

import json
import sys

import torch
import triton

from turbodiffusion.ops.norm_modulate import norm_modulate, norm_modulate_fp8
from turbodiffusion.quant.row_quant.kernel import RowQuantLaunch, quantize_rows_triton, row_quant_launch

SHAPES = [(32760, 1536, False), (32760, 8960, True), (75600, 5120, False), (75600, 13824, True)]


def ms(fn, reps: int = 20) -> float:
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b))
    return sorted(times)[len(times) // 2]


def settings(cols: int) -> list[RowQuantLaunch]:
    """Call 2's grid (call 1's was wider and ran out of time on the third shape)."""
    width = triton.next_power_of_2(cols)
    if width <= 8192:
        return [RowQuantLaunch(r, width, w) for r in (1, 2, 4, 8) if r * width <= 16384 for w in (2, 4, 8)]
    looped = [RowQuantLaunch(r, c, w) for r in (1, 2, 4) for c in (1024, 2048) for w in (4, 8)]
    return looped + [RowQuantLaunch(1, width, w) for w in (8, 16)]


def main() -> None:
    out_path = sys.argv[1]
    results = {
        "device": torch.cuda.get_device_name(),
        "torch": torch.__version__,
        "triton": triton.__version__,
    }
    rows = []
    for m, c, gelu in SHAPES:
        x = torch.randn(m, c, device="cuda").to(torch.bfloat16)
        default = row_quant_launch(c)
        q0, s0 = quantize_rows_triton(x, gelu, launch=default)
        nbytes = m * c * 3 + 4 * m
        for launch in settings(c):
            row = {"M": m, "C": c, "gelu": gelu, **launch.__dict__, "default": launch == default}
            try:
                q, s = quantize_rows_triton(x, gelu, launch=launch)
                row["same"] = bool(
                    torch.equal(q.view(torch.int8), q0.view(torch.int8)) and torch.equal(s, s0)
                )
                t = ms(lambda x=x, g=gelu, lc=launch: quantize_rows_triton(x, g, launch=lc))
                row.update(ms=t, gbps=nbytes / t / 1e6)
            except Exception as err:  # noqa: BLE001
                row["error"] = f"{type(err).__name__}: {str(err)[:200]}"
            rows.append(row)
            print(row, flush=True)
        del x
    results["row_quant"] = rows
    norms = []
    for m, d in ((32760, 1536), (75600, 5120)):
        x = torch.randn(1, m, d, device="cuda").to(torch.bfloat16)
        sc, sh = torch.randn(1, 1, d, device="cuda") * 0.1, torch.randn(1, 1, d, device="cuda") * 0.1
        row = {"M": m, "D": d}
        row["bf16_ms"] = ms(lambda x=x, sc=sc, sh=sh: norm_modulate(x, sc, sh))
        row["fp8_ms"] = ms(lambda x=x, sc=sc, sh=sh: norm_modulate_fp8(x, sc, sh))
        q = norm_modulate_fp8(x, sc, sh)
        ref = norm_modulate(x.float(), sc, sh)
        deq = q.codes.float() * q.scale[..., None]
        row["fp8_rel_l2_vs_fp32"] = float((deq - ref).norm() / ref.norm())
        norms.append(row)
        print(row, flush=True)
    results["norm_modulate"] = norms
    with open(out_path, "w") as f:
        json.dump(results, f, indent=1)


if __name__ == "__main__":
    main()
