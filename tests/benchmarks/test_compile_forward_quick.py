"""benchmarks/compile_forward.py --quick: eager and torch.compile forwards of the tiny DiT on the CPU, and
the options that need a GPU refused."""

from __future__ import annotations

import json

import pytest

from ._load import run_benchmark


def test_quick_eager_and_compile(tmp_path):
    out = tmp_path / "compile.json"
    result = run_benchmark(tmp_path, "compile_forward", "wan2.1-t2v-1.3b", "--quick", "--variant", "sdpa",
                           "--arms", "compile", "--rounds", "2", "--reps", "1", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["arm"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["eager", "compile"]  # the baseline is added when --arms leaves it out
    eager, compiled = rows["eager"], rows["compile"]
    assert eager["error"] is None and compiled["error"] is None, rows
    assert len(eager["ms"]) == len(compiled["ms"]) == 2  # rounds x reps
    assert eager["speedup_vs_eager"] == 1.0 and eager["rel_l2_vs_eager"] == 0.0
    assert compiled["speedup_vs_eager"] == pytest.approx(eager["fwd_ms"] / compiled["fwd_ms"])
    # The model's plain-PyTorch path traces as one graph: a break added to the model code shows up here.
    assert compiled["graphs"] == 1 and compiled["graph_breaks"] == 0, compiled["break_reasons"]
    # The same model: only roundings differ (bf16 elementwise work fused and reordered).
    assert compiled["rel_l2_vs_eager"] < 1e-2


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--arms", "graph"], "need a CUDA GPU"),
        (["--variant", "sagesla+fused"], "needs a CUDA GPU"),
        (["--arms", "eager,jit"], "unknown jit"),
        (["--rounds", "0"], "--rounds must be >= 1"),
    ],
)
def test_refuses_gpu_only_options_and_typos(tmp_path, extra, words):
    result = run_benchmark(tmp_path, "compile_forward", "wan2.1-t2v-1.3b", "--quick", *extra)
    assert result.returncode == 2 and words in result.stderr, result.stderr[-2000:]
