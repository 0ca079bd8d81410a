"""The rCM few-step sampler (shared/docs/sampling-and-training.md §2): TurboDiffusion's default.

Stochastic multistep consistency sampling in rectified-flow units, exactly as the official scripts run
it: start at ``x = s_0 e0``; at each step jump to the clean estimate ``x0 = x - s_i v`` and re-noise to
the next level with fresh noise (``ode=True``: a deterministic Euler step instead). The state is float64;
the network sees its input and timestep rounded to bf16, as TurboDiffusion's bf16 inference does.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .schedules import SIGMA_MAX_T2V, rcm_rf_times

logger = logging.getLogger(__name__)

# velocity(x_rf, tau) -> v: x_rf [B, C, F, h, w] in the network's input dtype, tau [B] on the 0..1000 scale.
# Returns the flow-matching velocity v ~ eps - x0 with x_rf's shape, any float dtype.
Velocity = Callable[[Tensor, Tensor], Tensor]
# Called after step i (0-based) with the RF time s_i the network saw.
StepCallback = Callable[[int, float], None]


def rcm_sample(
    velocity: Velocity,
    shape: Sequence[int],
    *,
    generator: torch.Generator,
    steps: int = 4,
    sigma_max: float = SIGMA_MAX_T2V,
    ode: bool = False,
    device: torch.device | str | None = None,
    input_dtype: torch.dtype = torch.bfloat16,
    timestep_dtype: torch.dtype = torch.bfloat16,
    switch_boundary: float | None = None,
    on_switch: Callable[[], None] | None = None,
    on_step: StepCallback | None = None,
    progress: bool = False,
) -> Tensor:
    """Run the rCM sampler and return the final latent x0, float32 with ``shape`` [B, C, F, h, w].

    velocity: the denoiser (see ``Velocity``); called once per step (guidance is distilled in).
    generator: every random draw comes from it, in the reference order: the initial noise e0 (float32,
        ``shape``), then one draw of ``shape`` per step, including the last (multiplied by s_n = 0);
        none with ``ode=True``. Draws happen on the generator's device, so a seed reproduces a run on
        the same device.
    steps: 1 to 4; sigma_max: EDM sigma of the first step (80 for Wan2.1 T2V, 200 for Wan2.2 I2V).
    device: where the float64 state lives (default: the generator's device).
    input_dtype, timestep_dtype: what x and tau are cast to before the call. bf16 on purpose: the
        official bf16 inference rounds both (988, 932, 852, 608 at sigma_max 80), and the timestep
        rounding changes the output (models.md §9).
    switch_boundary, on_switch: the Wan2.2 expert switch. Before each step, if s_i < switch_boundary,
        ``on_switch()`` is called once, and never again (4 steps at 0.9: high, high, low, low).
    on_step: called after each step with (i, s_i). progress: tqdm bar over the steps on stderr.
    """
    if (switch_boundary is None) != (on_switch is None):
        raise ValueError(
            "switch_boundary and on_switch go together (got only one); pass both for a two-expert model, "
            "or neither"
        )
    if switch_boundary is not None and not 0.0 < switch_boundary < 1.0:
        raise ValueError(f"switch_boundary must be in (0, 1) (got {switch_boundary}); Wan2.2 I2V uses 0.9")
    rf = rcm_rf_times(steps, sigma_max)
    device = torch.device(device) if device is not None else generator.device
    shape = tuple(shape)
    batch = shape[0]

    def draw() -> Tensor:
        noise = torch.randn(shape, generator=generator, dtype=torch.float32, device=generator.device)
        return noise.to(device)

    # float64 state on purpose: the official sampler keeps x, x0 and the re-noising in float64.
    x = rf[0] * draw().double()
    switched = False
    bar = tqdm(range(steps), desc="sampling", unit="step", disable=not progress, leave=False)
    for i in bar:
        s, s_next = rf[i], rf[i + 1]
        if switch_boundary is not None and not switched and s < switch_boundary:
            logger.debug("step %d (s=%.5f < %.3f): switching to the low-noise expert", i, s, switch_boundary)
            on_switch()
            switched = True
        tau = torch.full((batch,), 1000.0 * s, dtype=torch.float64, device=device).to(timestep_dtype)
        v = velocity(x.to(input_dtype), tau).double()
        if v.shape != x.shape:
            raise ValueError(f"velocity returned shape {tuple(v.shape)}; expected {tuple(x.shape)}")
        if ode:
            x = x - (s - s_next) * v
        else:
            x0 = x - s * v
            x = (1.0 - s_next) * x0 + s_next * draw().double()
        if logger.isEnabledFor(logging.DEBUG):  # tau[0].item() syncs with the GPU: only when logged
            logger.debug("rCM step %d/%d: s=%.5f tau=%s", i + 1, steps, s, tau[0].item())
        if on_step is not None:
            on_step(i, s)
    return x.float()
