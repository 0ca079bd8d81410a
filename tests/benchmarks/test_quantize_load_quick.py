"""benchmarks/quantize_load.py --quick: both arms run, and the layers they give are equal bit for bit."""

from __future__ import annotations

import json

import pytest

from ._load import run_benchmark


def test_quick_rows(tmp_path):
    out = tmp_path / "quantize_load.json"
    result = run_benchmark(tmp_path, "quantize_load", "wan2.1-t2v-1.3b", "--quick", "--modes", "fp8-row-fast",
                           "int8", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert [r["mode"] for r in data["rows"]] == ["fp8-row-fast", "int8"]
    for row in data["rows"]:
        assert row["equal"] is True
        assert row["cpu_over_device"] == pytest.approx(row["cpu_s"] / row["device_s"])
    assert data["parameters"] > 0
