"""benchmarks/text_keys.py --quick: the full and the trimmed context on the CPU, side by side, with JSON."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_text_keys_quick(tmp_path):
    out = tmp_path / "t.json"
    result = run_benchmark(tmp_path, "text_keys", "wan2.1-t2v-1.3b", "--quick", "--rounds", "2", "--reps", "1",
                           "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {(r["part"], r["variant"]): r for r in data["rows"]}
    assert set(rows) == {
        (p, v) for p in ("cross-attention SDPA", "forward (later step)") for v in ("full", "trimmed")
    }
    # 24 prompt rows trimmed to 32, then the padding's stand-ins up to 48 keys, against all 512 rows.
    assert rows[("forward (later step)", "full")]["keys"] == 512
    assert rows[("forward (later step)", "trimmed")]["keys"] == 48
    assert all(r["ms"] > 0 and r["calls"] == 2 for r in rows.values())
    assert data["finite"] and data["forward_rel_l2"] < 2e-2  # bf16 roundings of one attention, not another
