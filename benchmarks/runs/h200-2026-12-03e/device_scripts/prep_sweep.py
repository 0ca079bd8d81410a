"""Device sweep (2026-12-03e): the one-read row quantiser, m = KV W^T in the K/V summary, the tuned RoPE norm.

    PYTHONPATH=. python benchmarks/runs/h200-2026-12-03e/device_scripts/prep_sweep.py OUT.json

It ran on call 1's tree (between e9d206e and 1bb3e92), which had two things since removed: RowQuantLaunch's
tail_c (a one-read schedule) and an autotuned RoPE norm (``_rms_norm_rope_tuned``); at HEAD it needs them.

Every launch of the row quantiser must give the default's codes and scales; the two K/V summary paths'
m must agree to a bf16 step; the tuned RoPE norm must equal the heuristic launch's output bit for bit.
"""

from __future__ import annotations

import json
import sys

import torch
import triton

from turbodiffusion.attention.sla.kernel_fwd import premultiplied_state, summarize_kv
from turbodiffusion.ops.rms_norm.kernel import row_launch_config
from turbodiffusion.ops.rms_norm_rope import kernel as rope_kernel
from turbodiffusion.quant.row_quant.kernel import RowQuantLaunch, quantize_rows_triton, row_quant_launch


def ms(fn, reps: int = 7, calls: int = 10) -> float:
    """Median over ``reps`` of the mean time of ``calls`` back-to-back calls (the host stays ahead of the
    GPU, so launch overheads do not count; call 1's single-call times did include them)."""
    fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(reps):
        a, b = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        a.record()
        for _ in range(calls):
            fn()
        b.record()
        torch.cuda.synchronize()
        times.append(a.elapsed_time(b) / calls)
    return sorted(times)[len(times) // 2]


ROW_SHAPES = {  # (rows, cols, gelu): candidate launches besides the default
    (32760, 8960, True): [RowQuantLaunch(4, 1024, 8)]  # the two-pass default until now
    + [RowQuantLaunch(r, 8192, w, 1024) for r, w in ((1, 2), (1, 4), (1, 8), (2, 4), (2, 8))]
    + [RowQuantLaunch(r, 1024, w) for r, w in ((2, 4), (2, 8), (8, 8))],
    (32760, 1536, False): [
        RowQuantLaunch(r, 1024, w, 512) for r, w in ((2, 4), (4, 4), (4, 8), (8, 8), (8, 16))
    ],
    (75600, 5120, False): [
        RowQuantLaunch(r, 4096, w, 1024) for r, w in ((1, 4), (1, 8), (1, 16), (2, 8), (2, 16))
    ],
    (75600, 13824, True): [
        RowQuantLaunch(1, 16384, 8),
        RowQuantLaunch(1, 1024, 8),
        RowQuantLaunch(2, 1024, 4),
    ],
    (32760, 13824, True): [RowQuantLaunch(1, 16384, 8)],
}


def row_quant_rows() -> list[dict]:
    rows = []
    for (m, c, gelu), candidates in ROW_SHAPES.items():
        x = torch.randn(m, c, device="cuda").to(torch.bfloat16)
        default = row_quant_launch(c)
        q0, s0 = quantize_rows_triton(x, gelu, launch=default)
        nbytes = m * c * 3 + 4 * m
        for launch in [default, *candidates]:
            row = {"M": m, "C": c, "gelu": gelu, **launch.__dict__, "default": launch == default}
            try:
                q, s = quantize_rows_triton(x, gelu, launch=launch)
                row["same"] = bool(
                    torch.equal(q.view(torch.int8), q0.view(torch.int8)) and torch.equal(s, s0)
                )
                t = ms(lambda x=x, g=gelu, lc=launch: quantize_rows_triton(x, g, launch=lc))
                row.update(ms=t, gbps=nbytes / t / 1e6)
            except Exception as err:  # noqa: BLE001
                row["error"] = f"{type(err).__name__}: {str(err)[:300]}"
            rows.append(row)
            print(row, flush=True)
        del x
    return rows


def summary_rows() -> list[dict]:
    rows = []
    for name, (seq, h) in {"1.3b-480p": (32760, 12), "14b-720p": (75600, 40)}.items():
        k, v = (torch.randn(1, seq, h, 128, device="cuda").to(torch.bfloat16) for _ in range(2))
        w = torch.randn(128, 128, device="cuda") / 128**0.5

        def before(k=k, v=v, w=w):
            s = summarize_kv(k, v, state=True, stats=True)
            return premultiplied_state(s.kv, w)

        def after(k=k, v=v, w=w):
            return summarize_kv(k, v, state=True, stats=True, weight=w).m

        m0, m1 = before(), after()
        ulp = torch.finfo(torch.bfloat16).eps * m0.float().abs()
        row = {
            "shape": name,
            "before_ms": ms(before),
            "after_ms": ms(after),
            "m_within_a_step": bool(((m1.float() - m0.float()).abs() <= ulp).all()),
            "m_equal_share": (m1 == m0).float().mean().item(),
        }
        rows.append(row)
        print(row, flush=True)
    return rows


def rope_row(seq: int, heads: int) -> dict:
    dim = heads * 128
    x = torch.randn(1, seq, dim, device="cuda").to(torch.bfloat16)
    w = torch.rand(dim, device="cuda") + 0.5
    ang = torch.rand(seq, 64, device="cuda") * 6
    cos, sin = ang.cos(), ang.sin()
    y_tuned = rope_kernel.rms_norm_rope_triton(x, w, cos, sin, heads)
    x2 = x.view(seq, dim)
    y = torch.empty_like(y_tuned)
    block_r, block_d, num_warps = row_launch_config(dim)

    def heuristic():
        rope_kernel._rms_norm_rope_kernel[(triton.cdiv(seq, block_r),)](
            x2, w, cos, sin, y, seq, seq, dim // 2, 64, x2.stride(0), 1e-6,
            BLOCK_R=block_r, BLOCK_D=block_d, num_warps=num_warps,
        )  # fmt: skip

    heuristic()
    best = rope_kernel._rms_norm_rope_tuned.best_config
    row = {
        "seq": seq,
        "dim": dim,
        "heuristic": [block_r, num_warps],
        "tuned": [best.kwargs.get("BLOCK_R"), best.num_warps],
        "same": bool(torch.equal(y, y_tuned)),
        "heuristic_ms": ms(heuristic),
        "tuned_ms": ms(lambda: rope_kernel._rms_norm_rope_op(x2, w, cos, sin, y, seq, heads, 1e-6)),
    }
    row["tuned_gbps"] = 4 * seq * dim / row["tuned_ms"] / 1e6
    row["heuristic_gbps"] = 4 * seq * dim / row["heuristic_ms"] / 1e6
    print(row, flush=True)
    return row


def main() -> None:
    out = {"device": torch.cuda.get_device_name(), "torch": torch.__version__, "triton": triton.__version__}
    out["row_quant"] = row_quant_rows()
    out["kv_summary"] = summary_rows()
    out["rms_norm_rope"] = [rope_row(32760, 12), rope_row(75600, 40)]
    with open(sys.argv[1], "w") as f:
        json.dump(out, f, indent=1)


if __name__ == "__main__":
    main()
