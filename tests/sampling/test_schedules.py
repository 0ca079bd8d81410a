"""Sampler schedules against the values in shared/docs/sampling-and-training.md §2-3."""

from __future__ import annotations

import math

import pytest
import torch

from turbodiffusion.sampling.schedules import (
    flow_sigmas,
    flow_timesteps,
    rcm_rf_times,
    rcm_trigflow_times,
    trigflow_to_rf,
)


@pytest.mark.parametrize(
    ("sigma_max", "first_s", "first_tau"),
    [(80.0, 0.98765, 988), (200.0, 0.99502, 996), (1600.0, 0.99938, 1000)],
)
def test_rcm_table_of_the_spec(sigma_max, first_s, first_tau):
    rf = rcm_rf_times(4, sigma_max)
    assert rf[-1] == 0.0
    assert rf[:4] == pytest.approx([first_s, 0.93378, 0.85290, 0.60898], abs=5e-6)
    taus = torch.tensor([1000.0 * s for s in rf[:4]], dtype=torch.float64).to(torch.bfloat16).tolist()
    assert taus == [first_tau, 932, 852, 608]


def test_rcm_schedule_is_trigflow_converted():
    t = rcm_trigflow_times(4, 80.0)
    assert t == [math.atan(80.0), 1.5, 1.4, 1.0, 0.0]
    # s = sigma / (1 + sigma) with sigma = tan t (the EDM route, independent of the sin/cos formula).
    for ti, si in zip(t, rcm_rf_times(4, 80.0)):
        sigma = math.tan(ti)
        assert si == pytest.approx(sigma / (1 + sigma), rel=1e-12)
    assert [math.tan(x) for x in t[1:4]] == pytest.approx([14.10, 5.80, 1.56], abs=5e-3)


@pytest.mark.parametrize("steps", [1, 2, 3])
def test_fewer_rcm_steps_drop_from_the_right(steps):
    full = rcm_rf_times(4, 80.0)
    assert rcm_rf_times(steps, 80.0) == [*full[:steps], 0.0]


@pytest.mark.parametrize("steps", [0, 5, -1])
def test_rcm_steps_out_of_range(steps):
    with pytest.raises(ValueError, match=r"rCM runs 1 to 4 steps \(got"):
        rcm_rf_times(steps)


def test_rcm_bad_sigma_max():
    with pytest.raises(ValueError, match="sigma_max must be positive"):
        rcm_rf_times(4, 0.0)


def test_trigflow_out_of_range():
    with pytest.raises(ValueError, match=r"TrigFlow time must be in \[0, pi/2\]"):
        trigflow_to_rf(2.0)


@pytest.mark.parametrize("steps", [1, 7, 40, 50])
def test_flow_sigmas_match_the_formula(steps):
    shift = 5.0
    sig = flow_sigmas(steps, shift)
    assert len(sig) == steps + 1 and sig[-1] == 0.0
    for i in range(steps):
        u = 0.999 - 0.999 * i / steps
        assert sig[i] == pytest.approx(shift * u / (1 + (shift - 1) * u), rel=1e-14)
    assert all(a > b for a, b in zip(sig, sig[1:]))


def test_flow_timesteps_truncate():
    sig = flow_sigmas(50, 5.0)
    ts = flow_timesteps(sig)
    assert len(ts) == 50
    assert ts[0] == 999  # sigma_0 = 0.99980: truncated, not rounded to 1000
    assert all(t == math.floor(1000 * s) for t, s in zip(ts, sig))
    assert ts[-1] == math.floor(1000 * sig[-2]) and ts[-1] < 1000 * sig[-2]


def test_flow_bad_arguments():
    with pytest.raises(ValueError, match="at least 1 step"):
        flow_sigmas(0)
    with pytest.raises(ValueError, match="shift must be positive"):
        flow_sigmas(10, 0.0)
