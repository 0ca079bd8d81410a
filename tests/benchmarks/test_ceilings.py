"""The matmul ceilings' best-over-products rule (benchmarks/common.py), with the GPU timer replaced."""

from __future__ import annotations

from ._load import load_benchmark


def test_best_gemm_rate_keeps_the_fastest_product_and_records_each(monkeypatch):
    common = load_benchmark("common")
    # ms of each product: the second shape is the fastest per FLOP.
    times = {(2, 3, 4): 1e-3, (4, 3, 4): 1e-3, (8, 3, 4): 4e-3}

    def make(m, k, n):
        return (lambda: (m, k, n)), 2 * m * k * n

    monkeypatch.setattr(common, "time_ms", lambda fn, **_: (times[fn()], 0.0, 0.0))
    rates: list[dict] = []
    best = common.best_gemm_rate("bf16_tflops", make, tuple(times), rates)
    expected = {shape: 2 * shape[0] * shape[1] * shape[2] / ms / 1e9 for shape, ms in times.items()}
    assert best == max(expected.values()) == expected[(4, 3, 4)]
    assert [(r["ceiling"], tuple(r["shape"]), r["rate"]) for r in rates] == [
        ("bf16_tflops", shape, rate) for shape, rate in expected.items()
    ]
