"""benchmarks/text_keys.py --quick: the full and the trimmed context on the CPU, side by side, with JSON."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_text_keys_quick(tmp_path):
    out = tmp_path / "t.json"
    result = run_benchmark(tmp_path, "text_keys", "wan2.1-t2v-1.3b", "--quick", "--rounds", "2", "--reps", "1",
                           "--prompt-tokens", "24", "200", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {(r["part"], r["variant"]): r for r in data["rows"]}
    parts, variants = ("cross-attention SDPA", "forward (later step)"), ("full", "trimmed@24", "trimmed@200")
    assert set(rows) == {(p, v) for p in parts for v in variants}
    # 24 prompt rows trimmed to 32, 200 to 224, then the padding's stand-ins; against all 512 rows.
    keys = {v: rows[(parts[1], v)]["keys"] for v in variants}
    assert keys == {"full": 512, "trimmed@24": 48, "trimmed@200": 240}
    assert all(r["ms"] > 0 and r["calls"] == 2 for r in rows.values())
    assert all(rows[(p, v)]["speedup"] > 0 for p in parts for v in variants[1:])
    # bf16 roundings of one attention, not another: each trimmed forward against its own prompt's full one
    assert data["finite"] and set(data["forward_rel_l2"]) == {"trimmed@24", "trimmed@200"}
    assert all(err < 2e-2 for err in data["forward_rel_l2"].values())
    # The control moves the output (one bf16 step in the prompt's rows is not rounded away), and the trimmed
    # forwards differ from the full ones by no more than such a step does.
    assert 0 < data["rounding_rel_l2"] < 2e-2
    assert all(err < 3 * data["rounding_rel_l2"] for err in data["forward_rel_l2"].values())
