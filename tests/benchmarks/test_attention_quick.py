"""benchmarks/attention.py --quick: every backend's row, checked on the timed inputs, on the CPU (interpreter),
with the sustained timing's columns."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_attention_quick(tmp_path):
    out = tmp_path / "a.json"
    result = run_benchmark(
        tmp_path, "attention", "--quick", "--no-peer", "--sustain", "0.05", "--json", str(out)
    )
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {row["impl"]: row for row in json.loads(out.read_text())["rows"]}
    assert {
        "sdpa",
        "sla topk=0.1 (128/64)",
        "sagesla topk=0.1 (128/64)",
        "sla fwd+bwd topk=0.1 (64/64)",
    } <= set(rows)
    # The script stops on a failed check; what it measured is recorded beside each row.
    assert rows["sla topk=0.1 (128/64)"]["check"].startswith("ref ")
    assert rows["sagesla topk=0.1 (128/64)"]["sustained_ms"] > 0
    assert rows["sagesla topk=0.1 (128/64)"]["sustained_calls"] >= 1
    assert "sustained_ms" not in rows["sdpa fwd+bwd"]  # training rows are not sustained
