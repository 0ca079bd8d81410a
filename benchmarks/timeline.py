"""The GPU timeline of profiled forwards: how long the kernels kept the GPU busy, how long it waited between
them, and after which kernels the waits were (benchmarks/profile_forward.py --graph uses it).

A CUDA graph's forward can take longer than the sum of its kernels: the time between one kernel's end and
the next one's start (launch latency, a kernel's ramp-up) is idle GPU time that no kernel's duration shows.
``gap_summary`` measures it from the profiler's kernel intervals.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class KernelSpan:
    """One kernel's run on the GPU: name, start and end in microseconds (profiler clock)."""

    name: str
    start_us: float
    end_us: float


def gpu_kernel_spans(events: Iterable) -> list[KernelSpan]:
    """The device-side events of ``torch.profiler.profile(...).events()`` as KernelSpans, by start time."""
    spans = []
    for event in events:
        device_type = getattr(event, "device_type", None)
        if device_type is None or str(device_type).endswith("CPU"):
            continue
        time_range = event.time_range
        spans.append(KernelSpan(event.name, float(time_range.start), float(time_range.end)))
    return sorted(spans, key=lambda s: s.start_us)


def gap_summary(
    spans: list[KernelSpan], forwards: int, categorize: Callable[[str], str], top: int = 12
) -> dict:
    """Busy and idle GPU time per forward from kernel spans sorted by start (``gpu_kernel_spans``).

    busy_ms: the union of the kernels' intervals; span_ms: first start to last end; gap_ms = span - busy;
    kernels: how many ran; all per forward. gaps_by_category: idle time per forward after kernels of each
    category (``categorize``) before the next kernel; top_gaps: the (previous kernel, next kernel) pairs
    with the most idle time between them, with how often they occur per forward.
    """
    if forwards < 1:
        raise ValueError(f"forwards must be >= 1 (got {forwards})")
    if not spans:
        return {"kernels": 0.0, "busy_ms": 0.0, "span_ms": 0.0, "gap_ms": 0.0, "gaps_by_category": {},
                "top_gaps": []}  # fmt: skip
    busy_us, reach = 0.0, spans[0].start_us
    by_category: dict[str, float] = defaultdict(float)
    by_pair: dict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    previous: KernelSpan | None = None
    for span in spans:
        if span.end_us > reach:  # the part of this kernel no earlier kernel already covered
            busy_us += span.end_us - max(span.start_us, reach)
        if previous is not None and span.start_us > reach:
            idle = span.start_us - reach
            by_category[categorize(previous.name)] += idle
            pair = by_pair[(previous.name[:80], span.name[:80])]
            pair[0] += idle
            pair[1] += 1
        if span.end_us >= reach:
            previous = span
        reach = max(reach, span.end_us)
    total_us = reach - spans[0].start_us
    ranked = sorted(by_pair.items(), key=lambda item: -item[1][0])[:top]
    return {
        "kernels": len(spans) / forwards,
        "busy_ms": busy_us / 1e3 / forwards,
        "span_ms": total_us / 1e3 / forwards,
        "gap_ms": (total_us - busy_us) / 1e3 / forwards,
        "gaps_by_category": {k: v / 1e3 / forwards for k, v in sorted(by_category.items(), key=lambda kv: -kv[1])},
        "top_gaps": [
            {"after": a, "before": b, "ms": v[0] / 1e3 / forwards, "count": v[1] / forwards}
            for (a, b), v in ranked
        ],
    }  # fmt: skip


__all__ = ["KernelSpan", "gap_summary", "gpu_kernel_spans"]
