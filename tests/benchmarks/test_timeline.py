"""benchmarks/timeline.py: busy and idle GPU time from kernel intervals, on hand-made timelines."""

from __future__ import annotations

import pytest

from ._load import load_benchmark


def _category(name: str) -> str:
    return name.split(":")[0]


def test_gap_summary_counts_busy_time_once_and_charges_each_wait_to_the_kernel_before_it():
    tl = load_benchmark("timeline")
    span = tl.KernelSpan
    spans = [
        span("gemm:a", 0.0, 10.0),
        span("norm:b", 12.0, 15.0),  # 2 us idle after gemm:a
        span("norm:c", 14.0, 20.0),  # overlaps b: only 5 new busy us
        span("gemm:a", 23.0, 30.0),  # 3 us idle after norm:c (the kernel that ended last)
        span("norm:b", 30.0, 31.0),  # back to back: no idle
        span("norm:d", 30.5, 30.8),  # inside b: adds nothing, and is not "the kernel before" the next wait
        span("gemm:a", 35.0, 36.0),  # 4 us idle after norm:b
    ]
    out = tl.gap_summary(spans, forwards=2, categorize=_category)
    assert out["kernels"] == 3.5
    assert out["span_ms"] == pytest.approx(36.0 / 1e3 / 2)
    assert out["busy_ms"] == pytest.approx((10 + 3 + 5 + 7 + 1 + 1) / 1e3 / 2)
    assert out["gap_ms"] == pytest.approx((2 + 3 + 4) / 1e3 / 2)
    assert out["gaps_by_category"] == pytest.approx({"norm": 7 / 1e3 / 2, "gemm": 2 / 1e3 / 2})
    top = out["top_gaps"][0]
    assert (top["after"], top["before"], top["count"]) == ("norm:b", "gemm:a", 0.5)
    assert top["ms"] == pytest.approx(4 / 1e3 / 2)
    assert out["busy_ms"] + out["gap_ms"] == pytest.approx(out["span_ms"])


def test_gap_summary_of_nothing_and_bad_forwards():
    tl = load_benchmark("timeline")
    assert tl.gap_summary([], forwards=1, categorize=_category)["kernels"] == 0.0
    with pytest.raises(ValueError, match="forwards must be >= 1"):
        tl.gap_summary([], forwards=0, categorize=_category)


def test_gpu_kernel_spans_keeps_device_events_only():
    tl = load_benchmark("timeline")

    class Range:
        def __init__(self, start, end):
            self.start, self.end = start, end

    class Event:
        def __init__(self, name, device_type, start, end):
            self.name, self.device_type, self.time_range = name, device_type, Range(start, end)

    events = [
        Event("k2", "DeviceType.CUDA", 5, 6),
        Event("op", "DeviceType.CPU", 0, 9),
        Event("k1", "DeviceType.CUDA", 1, 2),
    ]
    assert [s.name for s in tl.gpu_kernel_spans(events)] == ["k1", "k2"]
