"""benchmarks/default_model_training.py --quick: every group runs on the CPU and is reported against its
first row; the two sCM tangent implementations are cross-checked before timing."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_quick_run_reports_every_group(tmp_path):
    out = tmp_path / "training.json"
    result = run_benchmark(tmp_path, "default_model_training", "--quick", "--json", str(out))
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["group"] for r in rows] == ["vae"] * 4 + ["teacher"] * 2 + ["scm"] * 2
    assert [r["row"] for r in rows if r["group"] == "scm"] == ["tangent=reference", "tangent=triton"]
    for group in ("vae", "teacher", "scm"):
        first = next(r for r in rows if r["group"] == group)
        assert first["vs_first"] == 1.0
    assert all(r["steps/s"] > 0 and r["samples/s"] > 0 for r in rows)
    assert all(r["target_rel_l2"] < 1e-2 for r in rows if r["group"] == "scm")
