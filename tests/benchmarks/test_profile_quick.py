"""benchmarks/profile_forward.py and benchmarks/vae_decode.py --quick: they run on the CPU and write
consistent JSON (the CPU fills the same tables from op self-times)."""

from __future__ import annotations

import json

from ._load import run_benchmark


def test_profile_forward_quick(tmp_path):
    out = tmp_path / "p.json"
    result = run_benchmark(tmp_path, "profile_forward", "wan2.1-t2v-1.3b", "--quick", "--variants",
                           "sdpa,sla+int8+fused", "--reps", "1", "--profile-reps", "1", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    rows = {r["variant"]: r for r in json.loads(out.read_text())["rows"]}
    assert list(rows) == ["sdpa", "sla+int8+fused"]
    for row in rows.values():
        cats = ("gemm", "attention", "quant", "norm", "elementwise", "copy", "other")
        assert abs(sum(row[c] for c in cats) - row["kernel_ms"]) < 1e-6 * max(1.0, row["kernel_ms"])
        assert row["fwd_ms"] > 0 and row["gemm"] > 0 and row["top_kernels"]
    # the quantised model runs more (and other) ops than the bf16 one
    assert rows["sla+int8+fused"]["top_kernels"] != rows["sdpa"]["top_kernels"]


def test_profile_forward_with_a_prompt_context(tmp_path):
    """--prompt-tokens: the pipeline's trimmed context (--quick's text_len 32 keeps all 32 rows)."""
    out = tmp_path / "p.json"
    result = run_benchmark(tmp_path, "profile_forward", "wan2.1-t2v-1.3b", "--quick", "--variants", "sla+fused",
                           "--reps", "1", "--profile-reps", "1", "--prompt-tokens", "5", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    assert data["context_rows"] == 32 and data["args"]["prompt_tokens"] == 5
    bad = run_benchmark(
        tmp_path,
        "profile_forward",
        "wan2.1-t2v-1.3b",
        "--quick",
        "--variants",
        "sla",
        "--prompt-tokens",
        "33",
    )
    assert bad.returncode == 1 and "--prompt-tokens must be 1 to text_len=32 (got 33)" in bad.stderr


def test_profile_forward_refuses_gpu_only_options_and_typos(tmp_path):
    for extra, words in (
        (["--variants", "sagesla"], "needs a CUDA GPU"),
        (["--variants", "sla+int4"], "at most one of int8/fp8"),
        (["--variants", "sla", "--graph"], "--graph needs a CUDA GPU"),
    ):
        result = run_benchmark(tmp_path, "profile_forward", "wan2.1-t2v-1.3b", "--quick", *extra)
        assert result.returncode == 2 and words in result.stderr, result.stderr[-2000:]


def test_vae_decode_quick(tmp_path):
    out = tmp_path / "v.json"
    result = run_benchmark(tmp_path, "vae_decode", "--quick", "--chunk-latents", "1", "2", "--reps", "1",
                           "--layers", "--json", str(out))  # fmt: skip
    assert result.returncode == 0, result.stderr[-3000:]
    data = json.loads(out.read_text())
    rows = {(r["variant"], r["chunk_latents"]): r for r in data["rows"]}
    variants = (
        "default", "channels_last", "fused", "channels_last+fused", "channels_last+fused+subpixel",
        "channels_last+fused+subpixel+conv16", "channels_last+fused+subpixel+convall",
    )  # fmt: skip
    assert set(rows) == {(v, k) for v in variants for k in (1, 2)}
    # Layouts, fused norms, the sub-pixel upsamples and the conv kernel are roundings of one model: near the
    # default and near an fp32 decode.
    assert all(r["rel_l2_vs_default"] < 5e-2 and r["rel_l2_vs_fp32"] < 5e-2 for r in rows.values())
    assert rows[("channels_last", 1)]["rel_l2_vs_default"] < 1e-2  # same arithmetic, another layout
    # On the CPU the conv kernel's "auto" takes the reference: the same decode as without it.
    subpixel = rows[(variants[-3], 1)]["rel_l2_vs_default"]
    assert (
        rows[(variants[-2], 1)]["rel_l2_vs_default"]
        == subpixel
        == rows[(variants[-1], 1)]["rel_l2_vs_default"]
    )
    assert data["layers"] and all(entry["ms"] >= 0 and entry["calls"] >= 1 for entry in data["layers"])
