"""Device sweep (2026-12-03, call 5): ``summarize_kv`` (state and stats) with the kernel variants of
kv_summary_variants.py swapped in, per launch setting, against the current kernel's outputs.

    PYTHONPATH=.:benchmarks/runs/h200-2026-12-03/device_scripts python .../kv_summary_sweep.py OUT.json
"""

from __future__ import annotations

import json
import sys

import kv_summary_variants as variants
import torch
from sage_blocks_sweep import SHAPES, graph_ms, rel

from turbodiffusion.attention.sla import kernel_fwd
from turbodiffusion.attention.sla.kernel_fwd import KVSummaryLaunch, kv_summary_launch, summarize_kv

KERNELS = {"current": kernel_fwd._kv_summary_kernel, "v1": variants._kv_summary_kernel_v1,
           "v2": variants._kv_summary_kernel_v2, "v3": variants._kv_summary_kernel_v3,
           "v4": variants._kv_summary_kernel_v4}  # fmt: skip


def main() -> None:
    rows = []
    for name, (shape, _grid) in SHAPES.items():
        b, seq, h, d = shape
        g = torch.Generator(device="cuda").manual_seed(0)
        k = torch.randn(b, seq, h, d, device="cuda", generator=g).bfloat16()
        v = torch.randn(b, seq, h, d, device="cuda", generator=g).bfloat16()
        default = kv_summary_launch(b * h * seq)
        per_sm = default.programs_per_sm
        truth = summarize_kv(k, v, state=True, stats=True)
        for kname, kern in KERNELS.items():
            for launch in (default, KVSummaryLaunch(128, 8, 2, per_sm), KVSummaryLaunch(64, 4, 3, per_sm)):
                kernel_fwd._kv_summary_kernel = kern
                try:
                    out = summarize_kv(k, v, state=True, stats=True, launch=launch)
                    kv = out.kv.transpose(-1, -2) if kname in ("v2", "v3") else out.kv
                    ms = graph_ms(
                        lambda k=k, v=v, la=launch: summarize_kv(k, v, state=True, stats=True, launch=la)
                    )
                    row = {"shape": name, "kernel": kname, "launch": launch.__dict__, "ms": ms,
                           "kv_rel": rel(kv, truth.kv), "ksum_rel": rel(out.ksum, truth.ksum),
                           "kmean_rel": rel(out.k_mean, truth.k_mean), "vamax_eq": bool(torch.equal(out.v_amax, truth.v_amax))}  # fmt: skip
                except Exception as err:  # noqa: BLE001
                    row = {"shape": name, "kernel": kname, "launch": launch.__dict__, "error": str(err)[:300]}
                finally:
                    kernel_fwd._kv_summary_kernel = KERNELS["current"]
                rows.append(row)
                print(row, flush=True)
    with open(sys.argv[1], "w") as fh:
        json.dump({"device": torch.cuda.get_device_name(), "rows": rows}, fh, indent=1)


if __name__ == "__main__":
    main()
