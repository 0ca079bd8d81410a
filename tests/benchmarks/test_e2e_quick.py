"""benchmarks/e2e.py --quick: the whole ablation script runs on the CPU and writes a consistent table."""

from __future__ import annotations

import json
import os

import pytest

from turbodiffusion.pipelines.gemm_workspace import WORKSPACE_VARIABLE

from ._load import run_benchmark


def test_t2v_quick_table(tmp_path):
    out = tmp_path / "e2e.json"
    result = run_benchmark(tmp_path, "e2e", "wan2.1-t2v-1.3b", "--quick", "--reps", "2", "--loop-reps", "1",
                  "--stage-reps", "1", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    # The run drops cuBLASLt's workspace as `generate` does, unless the environment named a size.
    assert data["env"]["cublaslt_workspace_size"] == os.environ.get(WORKSPACE_VARIABLE, "0")
    rows = {r["row"]: r for r in data["rows"]}
    assert list(rows) == [
        "baseline",
        "+rCM",
        "+SLA",
        "+W8A8",
        "+fused",
        "turbo-bf16",
        "turbo-fp8",
        "ours@peer",
    ]
    base = rows["baseline"]
    assert base["how"] == "100 x fwd" and base["extrap"] and base["forwards"] == 100
    assert base["diffusion_s"] == pytest.approx(100 * base["fwd_ms"] / 1e3)
    assert base["speedup"] == 1.0
    # Same model and inputs as the baseline: the +rCM forward is bit-identical.
    assert rows["+rCM"]["rel_l2"] == 0.0 and rows["+rCM"]["vs"] == "baseline"
    stages = sum(s["s"] for s in data["stages"])
    assert [s["stage"] for s in data["stages"]] == ["text", "decode"]
    decode = data["stages"][1]
    # Every chunking setting is timed in both layouts; none changes the decoded video beyond bf16 rounding
    # (the fused norms round once in fp32); the pipeline layout's fastest is the one counted.
    times, errors = decode["s_by_layout_chunk_latents"], decode["rel_l2_by_layout_chunk_latents"]
    assert set(times) == {f"{layout}/{k}" for layout in ("plain", "fast") for k in (1, 4, 20)}
    assert all(errors[f"plain/{k}"] < 1e-2 for k in (1, 4, 20))
    assert all(errors[f"fast/{k}"] < 5e-2 for k in (1, 4, 20))
    assert decode["s"] == min(times[f"fast/{k}"] for k in (1, 4, 20))
    assert decode["plain_s"] == min(times[f"plain/{k}"] for k in (1, 4, 20))
    # The decode's compute floor at the run's bf16 ceiling (the CPU's matmul rate with --quick).
    assert decode["tflop"] > 0
    assert decode["floor_s"] == pytest.approx(decode["tflop"] / data["ceilings"]["bf16_tflops"])
    assert decode["x_floor"] == pytest.approx(decode["s"] / decode["floor_s"])
    text = data["stages"][0]
    assert (text["prompt_tokens"], text["rows"]) == (24, 32) and text["s_full"] > 0  # of --quick's 64 rows
    for name, row in rows.items():
        # Engineering rows encode and attend to the trimmed context (the stage's s; 32 rows + the padding's
        # stand-ins), the rows before them to all of it.
        text_extra = 0.0 if row["text_cache"] else text["s_full"] - text["s"]
        assert row["total_s"] == pytest.approx(stages + row["diffusion_s"] + text_extra), name
        assert row["text_cache"] == (row["norms"] == "fused" and name != "ours@peer"), name
        expected = (32, 48) if row["text_cache"] else (64, 64)
        assert (row["context_rows"], row["text_keys"]) == expected, name
        assert row["floor_ms"] > 0 and row["x_floor"] == pytest.approx(row["fwd_ms"] / row["floor_ms"])
        assert row["host_syncs"] is None  # only measurable on CUDA
        assert row["fwd_sm_mhz"] is None and row["loop_clock"] is None  # no GPU clock to sample on the CPU
        if name != "baseline":
            assert row["how"] == "loop" and not row["extrap"] and row["forwards"] == 4
            assert 0.0 <= row["rel_l2"] < 2.0, name  # finite, and the same algorithm as its "vs" row
    # W8A8 and the fused norms change only rounding against the row before them.
    assert rows["+W8A8"]["rel_l2"] < 0.05 and rows["+fused"]["rel_l2"] < 0.05
    assert rows["+fused"]["norms"] == "fused" and rows["+W8A8"]["gemm"] == "int8"
    bf16 = rows["turbo-bf16"]
    assert (bf16["gemm"], bf16["norms"], bf16["vs"]) == ("bf16", "fused", "+fused") and bf16["rel_l2"] < 0.05
    fp8 = rows["turbo-fp8"]
    assert (fp8["gemm"], fp8["norms"], fp8["vs"]) == ("fp8row", "fused", "turbo-bf16") and fp8[
        "rel_l2"
    ] < 0.05
    # The CPU's crude ceilings are one rate for every GEMM kind: FP8 W8A8 then floors exactly as INT8 does.
    assert fp8["floor_ms"] == pytest.approx(rows["+fused"]["floor_ms"]) and fp8["gbytes"] < bf16["gbytes"]
    assert data["env"]["device"] == "cpu" and data["complete"]


def test_i2v_quick_extrapolates_and_reports_the_peer(tmp_path):
    out = tmp_path / "e2e.json"
    result = run_benchmark(tmp_path, "e2e", "wan2.2-i2v-a14b", "--resolution", "720p", "--quick", "--loops", "final",
                  "--reps", "1", "--stage-reps", "1", "--peer", str(tmp_path), "--json", str(out),
                  "--rows", "+rCM,+SLA,+W8A8,+fused,ours@peer,peer")  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {r["row"]: r for r in data["rows"]}
    assert [s["stage"] for s in data["stages"]] == ["text", "encode", "decode"]
    encode = data["stages"][1]
    # Every chunking of the image encode is timed; on the CPU they give the same conditioning exactly.
    assert list(encode["s_by_chunk_latents"]) == ["1", "4", "20"] and encode["chunk_latents"] in (1, 4, 20)
    assert set(encode["rel_l2_by_chunk_latents"].values()) == {0.0}
    assert encode["s"] == min(encode["s_by_chunk_latents"].values())
    # The steady tail (the zero frames' repeats computed once) counts fewer FLOPs than every frame does,
    # for a y equal up to rounding.
    assert 0 < encode["tflop"] < encode["every_frame_tflop"] and encode["every_frame_rel_l2"] < 1e-2
    assert rows["+fused"]["how"] == "loop"  # the final row on the CPU (no CUDA graph there)
    for name in ("+rCM", "+SLA", "+W8A8", "ours@peer"):
        assert rows[name]["how"] == "4 x fwd" and rows[name]["extrap"], name
        assert rows[name]["diffusion_s"] == pytest.approx(4 * rows[name]["fwd_ms"] / 1e3)
    assert "peer row not run" in rows["peer"]["note"] and "fwd_ms" not in rows["peer"]
    assert any("one expert" in n for n in data["notes"])


def test_row_subset_keeps_the_baseline(tmp_path):
    out = tmp_path / "e2e.json"
    result = run_benchmark(tmp_path, "e2e", "wan2.1-t2v-1.3b", "--quick", "--rows", "+fused", "--reps", "1", "--loops", "none",
                  "--stage-reps", "1", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = json.loads(out.read_text())["rows"]
    assert [r["row"] for r in rows] == ["baseline", "+fused"]
    assert rows[1]["rel_l2"] is None  # its "vs" row (+W8A8) did not run


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--frames", "80"], "--frames must be 4k+1 (got 80); use 81"),
        (["--rows", "+turbo"], "unknown --rows +turbo"),
        (["--prompt-tokens", "65"], "--prompt-tokens must be 1 to the text encoder's 64 (got 65)"),
    ],
)
def test_bad_arguments_are_refused(tmp_path, args, message):
    result = run_benchmark(tmp_path, "e2e", "wan2.1-t2v-1.3b", "--quick", *args)
    assert result.returncode == 2 and message in result.stderr
