"""Samplers over a denoiser ``velocity(x_rf, tau) -> v``: rCM few-step (default) and the Wan baseline."""

from .rcm import Velocity, rcm_sample
from .schedules import flow_sigmas, flow_timesteps, rcm_rf_times, rcm_trigflow_times
from .unipc import WAN_NEGATIVE_PROMPT, flow_euler_sample, flow_unipc_sample, guided

__all__ = [
    "Velocity",
    "WAN_NEGATIVE_PROMPT",
    "flow_euler_sample",
    "flow_sigmas",
    "flow_timesteps",
    "flow_unipc_sample",
    "guided",
    "rcm_rf_times",
    "rcm_sample",
    "rcm_trigflow_times",
]
