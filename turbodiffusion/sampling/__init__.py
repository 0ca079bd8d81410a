"""Samplers over a denoiser ``velocity(x_rf, tau) -> v``: rCM few-step (default) and the Wan baseline.

Names are imported on first use (``turbodiffusion.lazy``): the schedules need no torch.
"""

from __future__ import annotations

from ..lazy import lazy_exports

_HOMES = {
    "Velocity": ".rcm",
    "rcm_sample": ".rcm",
    "flow_sigmas": ".schedules",
    "flow_timesteps": ".schedules",
    "rcm_rf_times": ".schedules",
    "rcm_trigflow_times": ".schedules",
    "WAN_NEGATIVE_PROMPT": ".unipc",
    "flow_euler_sample": ".unipc",
    "flow_unipc_sample": ".unipc",
    "guided": ".unipc",
}
__getattr__, __dir__ = lazy_exports(__name__, _HOMES)
__all__ = sorted(_HOMES)
