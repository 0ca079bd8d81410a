"""benchmarks/offload.py --quick: streamed and resident forwards run on the CPU and agree bit for bit."""

from __future__ import annotations

import json

import pytest

from ._load import run_benchmark


def test_quick_rows(tmp_path):
    out = tmp_path / "offload.json"
    result = run_benchmark(tmp_path, "offload", "wan2.1-t2v-1.3b", "--quick", "--attention", "sdpa", "--w8a8", "--depths", "0", "2",
                  "--reps", "1", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {r["row"]: r for r in data["rows"]}
    assert list(rows) == ["resident", "streamed d=0", "streamed d=2"]
    resident = rows["resident"]
    assert resident["ratio"] == 1.0 and resident["device_gib"] == pytest.approx(data["weights_gib"])
    for depth in (0, 2):
        row = rows[f"streamed d={depth}"]
        assert row["exact"] and row["rel_l2"] == 0.0 and row["depth"] == depth
        assert row["ratio"] == pytest.approx(row["fwd_ms"] / resident["fwd_ms"])
        assert row["device_gib"] < resident["device_gib"]  # the trunk and depth + 1 block slots
        assert row["copy_ms"] is None and row["floor_ms"] == resident["fwd_ms"]  # no GPU, no copy rate
    shallow, deep = rows["streamed d=0"], rows["streamed d=2"]
    assert deep["device_gib"] - shallow["device_gib"] == pytest.approx(2 * deep["block_gib"])
    assert deep["blocks_gib"] == pytest.approx(4 * deep["block_gib"])  # the --quick DiT has four blocks
    assert data["env"]["device"] == "cpu" and any("CUDA graph" in n for n in data["notes"])


def test_bad_depth_is_refused(tmp_path):
    result = run_benchmark(tmp_path, "offload", "wan2.1-t2v-1.3b", "--quick", "--depths", "-1")
    assert result.returncode == 2 and "--depths must be >= 0" in result.stderr
