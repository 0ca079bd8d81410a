"""benchmarks/text_attention.py --quick: the unfused and fused cross-attention on the CPU, checked, with JSON."""

from __future__ import annotations

import json

import torch

from turbodiffusion.testing import tolerances

from ._load import run_benchmark


def test_text_attention_quick(tmp_path):
    out = tmp_path / "t.json"
    result = run_benchmark(
        tmp_path, "text_attention", "--quick", "--prompt-tokens", "24", "512", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["prompt"], r["keys"], r["impl"]) for r in rows] == [
        (24, 48, "rms_norm+sdpa"), (24, 48, "text_attention"), (512, 512, "rms_norm+sdpa"),
        (512, 512, "text_attention"),
    ]  # fmt: skip
    for base, fused in (rows[:2], rows[2:]):
        assert fused["ms"] > 0 and fused["speedup"] == base["ms"] / fused["ms"]
        assert fused["max_rel"] <= tolerances.lowp_bound(torch.bfloat16, base["max_rel"])
