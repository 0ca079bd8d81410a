"""benchmarks/cold_start.py --quick: three child processes, one per state of the Triton cache folder."""

from __future__ import annotations

import json

import pytest

from ._load import run_benchmark


def test_quick_arms(tmp_path):
    out = tmp_path / "cold_start.json"
    result = run_benchmark(tmp_path, "cold_start", "--quick", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["arm"] for r in rows] == ["cold", "warm", "no-timings"]
    for row in rows:
        assert row["excess_s"] == pytest.approx(row["first_total_s"] - row["second_total_s"])
        assert row["autotune_files"] == 0  # the CPU interpreter never tunes
        assert 0 < row["calls"]["build_s"] < row["process_s"]
    assert rows[-1]["excess_vs_no_timings"] == pytest.approx(1.0) or rows[-1]["excess_s"] <= 0


def test_the_default_model_arms(tmp_path):
    out = tmp_path / "cold_start.json"
    result = run_benchmark(tmp_path, "cold_start", "--preset", "builtin", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    for row in rows:
        first = row["calls"]["first"]
        assert first["steps_s"] > 0 and first["decode_s"] > 0
        assert row["first_total_s"] + row["second_total_s"] < row["process_s"]
