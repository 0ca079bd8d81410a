"""benchmarks/mp4_write.py: every threading setting is timed and writes a file."""

from __future__ import annotations

import json

import pytest

from ._load import run_benchmark


def test_quick_rows(tmp_path):
    out = tmp_path / "mp4.json"
    result = run_benchmark(tmp_path, "mp4_write", "--resolution", "480p", "--frames", "9", "--reps", "1",
                           "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["thread_type"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["SLICE", "FRAME", "AUTO"] and rows["SLICE"]["vs_slice"] == 1.0
    for row in rows.values():
        assert row["bytes"] > 0 and row["vs_slice"] == pytest.approx(row["s"] / rows["SLICE"]["s"])
