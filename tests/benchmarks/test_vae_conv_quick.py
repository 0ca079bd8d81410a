"""benchmarks/vae_conv.py --quick: cuDNN's and the Triton kernel's convolution on the CPU, with JSON."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_vae_conv_quick(tmp_path):
    out = tmp_path / "c.json"
    result = run_benchmark(tmp_path, "vae_conv", "--quick", "--reps", "1", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["shape"], r["impl"]) for r in rows] == [
        ("head 16->3", "cudnn"), ("head 16->3", "triton"), ("16->32", "cudnn"), ("16->32", "triton"),
    ]  # fmt: skip
    assert all(r["ms"] > 0 and r["speedup"] > 0 for r in rows)
    # One convolution: the kernel's output is cuDNN's to bf16 rounding, and both are near fp32's.
    assert all(r["rel_l2_vs_cudnn"] < 1e-2 and r["max_rel_vs_fp32"] < 1e-2 for r in rows)
    assert rows[1]["launch"]["block_n"] == 16 and rows[3]["launch"]["block_n"] == 32
