"""Step schedules of the two samplers (shared/docs/sampling-and-training.md §1-3).

Pure arithmetic on Python floats: no tensors, no devices. The rCM schedule is given in TrigFlow time
``t`` and converted to rectified-flow time ``s`` (what the Wan DiT sees, scaled by 1000); the baseline
schedule is Wan's shifted flow-matching one.
"""

from __future__ import annotations

import math

# Hand-picked intermediate TrigFlow times of the rCM sampler (identical in the rCM repo); n steps use the
# first n - 1 of them (§2).
RCM_MID_TIMES: tuple[float, ...] = (1.5, 1.4, 1.0)
RCM_MAX_STEPS = len(RCM_MID_TIMES) + 1
# sigma_max defaults: 80 for Wan2.1 T2V, 200 for Wan2.2 I2V (§2).
SIGMA_MAX_T2V = 80.0
SIGMA_MAX_I2V = 200.0
# Wan's baseline schedule starts at u = 0.999, not 1, so the first sigma stays finite in lambda = ln(a/s).
FLOW_U_MAX = 0.999


def trigflow_to_rf(t: float) -> float:
    """RF time s = sin t / (sin t + cos t) for a TrigFlow time t in [0, pi/2] (§1)."""
    if not 0.0 <= t <= math.pi / 2:
        raise ValueError(f"TrigFlow time must be in [0, pi/2] (got {t})")
    return math.sin(t) / (math.sin(t) + math.cos(t))


def rcm_trigflow_times(steps: int, sigma_max: float = SIGMA_MAX_T2V) -> list[float]:
    """TrigFlow times t_0..t_n of the rCM sampler: atan(sigma_max), the first n-1 of RCM_MID_TIMES, 0."""
    if not 1 <= steps <= RCM_MAX_STEPS:
        raise ValueError(f"rCM runs 1 to {RCM_MAX_STEPS} steps (got {steps}); use 4 for the best quality")
    if not sigma_max > 0:
        raise ValueError(f"sigma_max must be positive (got {sigma_max}); use 80 (T2V) or 200 (I2V)")
    return [math.atan(sigma_max), *RCM_MID_TIMES[: steps - 1], 0.0]


def rcm_rf_times(steps: int, sigma_max: float = SIGMA_MAX_T2V) -> list[float]:
    """RF times s_0..s_n (length steps + 1, ending in 0) of the rCM sampler. sigma_max 80 gives
    0.98765, 0.93378, 0.85290, 0.60898, 0 for 4 steps."""
    return [trigflow_to_rf(t) for t in rcm_trigflow_times(steps, sigma_max)]


def shift_time(u, shift: float):
    """Wan's time shift s = shift u / (1 + (shift - 1) u) of RF times u in [0, 1] (a float or a tensor):
    the flow sampler's schedule, and the time distribution of training on it (``training.flow``)."""
    return shift * u / (1.0 + (shift - 1.0) * u)


def flow_sigmas(steps: int, shift: float = 5.0) -> list[float]:
    """Wan's shifted flow-matching sigmas sigma_0..sigma_N (length steps + 1, ending in 0) (§3).

    u_i = linspace(0.999, 0, N + 1)[:N]; sigma_i = shift u_i / (1 + (shift - 1) u_i); sigma_N = 0.
    """
    if steps < 1:
        raise ValueError(f"the flow sampler needs at least 1 step (got {steps}); Wan's default is 50")
    if not shift > 0:
        raise ValueError(f"shift must be positive (got {shift}); Wan uses 5.0 (3.0 for 480p I2V)")
    step = (0.0 - FLOW_U_MAX) / steps
    sigmas = []
    for i in range(steps):
        u = i * step + FLOW_U_MAX  # numpy.linspace's own arithmetic, so truncated timesteps agree with Wan's
        sigmas.append(shift_time(u, shift))
    return [*sigmas, 0.0]


def flow_timesteps(sigmas: list[float]) -> list[int]:
    """What the Wan baseline feeds the network: int64(1000 sigma_i), truncated on purpose (Wan does so),
    for every sigma but the final 0."""
    return [int(1000.0 * s) for s in sigmas[:-1]]
