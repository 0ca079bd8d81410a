"""benchmarks/gpu_clock.py: parsing nvidia-smi's samples and sampling around a block (with a stand-in
command, since CI has no GPU)."""

from __future__ import annotations

import sys

import pytest
import torch

from ._load import load_benchmark


def test_summary_of_samples_skips_what_does_not_parse():
    clock = load_benchmark("gpu_clock")
    lines = [
        "clocks.current.sm [MHz], power.draw [W], clocks_event_reasons.active",  # a header
        "1980, 130.5, 0x0000000000000000",
        "1800, 650.0, 0x0000000000000004",
        "1710, 699.0, 0x0000000000000004",
        "[N/A], [N/A], [N/A]",
        "1815, 64",  # a line cut when the sampler was stopped
    ]
    s = clock.summarize_samples(lines)
    assert s == {
        "sm_mhz": 1800.0,
        "sm_mhz_min": 1710.0,
        "power_w": 650.0,
        "power_capped": 2 / 3,
        "samples": 3,
    }
    assert clock.summarize_samples(["garbage", ""]) is None


def test_sampler_collects_what_its_command_prints():
    clock = load_benchmark("gpu_clock")
    script = "for c in (1900, 1700):\n    print(f'{c}, 600.0, 0x4')"
    with clock.ClockSampler(torch.device("cpu"), command=[sys.executable, "-c", script]) as sampler:
        sampler._proc.wait(timeout=60)  # the stand-in prints and exits; nvidia-smi would run until stopped
    assert sampler.summary == {"sm_mhz": 1800.0, "sm_mhz_min": 1700.0, "power_w": 600.0, "power_capped": 1.0,
                               "samples": 2}  # fmt: skip


def test_sampler_without_a_gpu_or_a_command_gives_no_summary():
    clock = load_benchmark("gpu_clock")
    with clock.ClockSampler(torch.device("cpu")) as sampler:
        pass
    assert sampler.summary is None
    with clock.ClockSampler(torch.device("cpu"), command=["/nonexistent/nvidia-smi"]) as sampler:
        pass
    assert sampler.summary is None


def test_sustained_timing_calls_back_to_back_and_reports_cycles():
    clock = load_benchmark("gpu_clock")
    calls = []
    script = "print('1500, 690.0, 0x4')"
    # The window must outlast the fake sampler's start-up (a Python process: 50 ms was too short on a loaded
    # 2-core CI machine, which then sampled nothing).
    row = clock.sustained_ms(
        lambda: calls.append(1), torch.device("cpu"), 0.5, [sys.executable, "-c", script]
    )
    # One untimed warm-up call, then the timed ones; ms a call from the wall clock, cycles from the clock.
    assert row["sustained_calls"] == len(calls) - 1 >= 1
    assert row["sm_mhz"] == 1500.0 and row["power_capped"] == 1.0 and row["power_w"] == 690.0
    assert row["mcycles"] == pytest.approx(row["sustained_ms"] * 1.5)
    assert 0 < row["sustained_ms"] * row["sustained_calls"] <= 5_000
    unsampled = clock.sustained_ms(lambda: None, torch.device("cpu"), 0.01)
    assert unsampled["sm_mhz"] is None and unsampled["mcycles"] is None
    with pytest.raises(ValueError, match="seconds must be > 0"):
        clock.sustained_ms(lambda: None, torch.device("cpu"), 0)
