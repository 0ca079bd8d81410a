"""benchmarks/vae_encode.py --quick: I2V's image encode with and without the steady tail on the CPU."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_vae_encode_quick(tmp_path):
    out = tmp_path / "e.json"
    result = run_benchmark(
        tmp_path, "vae_encode", "--quick", "--chunk-latents", "1", "--rounds", "2", "--reps", "1",
        "--json", str(out),
    )  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [(r["arm"], r["chunk_latents"]) for r in rows] == [("every_frame", 1), ("steady_tail", 1)]
    assert all(r["s"] > 0 and len(r["s_all"]) == 2 for r in rows)
    assert rows[0]["speedup"] == 1.0 and rows[1]["tflop"] < rows[0]["tflop"]
    assert rows[1]["rel_l2_vs_every_frame"] < 1e-2


def test_vae_encode_refuses_size_without_cpu(tmp_path):
    result = run_benchmark(tmp_path, "vae_encode", "--size", "9", "16", "16")
    assert result.returncode == 2 and "--size goes with --cpu" in result.stderr
