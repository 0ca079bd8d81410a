"""The baseline Wan sampler: flow-matching UniPC (bh2, order 2) and Euler (sampling-and-training.md §3).

This reproduces "Original" in the speed tables: 50 steps, shift 5, classifier-free guidance 5 (two
forwards per step). The solver uses the float sigmas; the network receives Wan's truncated integer
timesteps ``int(1000 sigma_i)``. The solver state is float64 so that the only rounding left is the
network's.

UniPC notation (per step i -> i+1): alpha = 1 - sigma, lambda = ln(alpha / sigma), x0_i = x_i - sigma_i v_i,
h = lambda_{i+1} - lambda_i, phi = exp(-h) - 1 (bh2: B(h) = phi). The corrector (every step after the
first, before the predictor) recomputes x_i from x_{i-1} using the new x0_i; the predictor order is 1 on
the first step, then min(2, steps left), so the last step is order 1 and returns x0 exactly.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import torch
from torch import Tensor
from tqdm.auto import tqdm

from .rcm import StepCallback, Velocity
from .schedules import flow_sigmas, flow_timesteps

logger = logging.getLogger(__name__)

# Wan's default negative prompt for classifier-free guidance (sampling-and-training.md §3).
WAN_NEGATIVE_PROMPT = (
    "色调艳丽，过曝，静态，细节模糊不清，字幕，风格，作品，画作，画面，静止，整体发灰，最差质量，低质量，JPEG压缩残留，"
    "丑陋的，残缺的，多余的手指，画得不好的手部，画得不好的脸部，畸形的，毁容的，形态畸形的肢体，手指融合，"
    "静止不动的画面，杂乱的背景，三条腿，背景人很多，倒着走"
)


def guided(cond: Velocity, uncond: Velocity, scale: float) -> Velocity:
    """Classifier-free guidance: v = v_u + scale (v_c - v_u), computed in float32. Two forwards per call."""

    def velocity(x: Tensor, tau: Tensor) -> Tensor:
        v_c = cond(x, tau).float()
        v_u = uncond(x, tau).float()
        return v_u + scale * (v_c - v_u)

    return velocity


def _lam(sigma: float) -> float:
    return math.log((1.0 - sigma) / sigma)


def _phi(sigma: float, sigma_next: float) -> tuple[float, float]:
    """(h, phi) of the step sigma -> sigma_next; at sigma_next = 0, lambda = inf so phi = -1 exactly."""
    if sigma_next == 0.0:
        return math.inf, -1.0
    h = _lam(sigma_next) - _lam(sigma)
    return h, math.expm1(-h)


def _corrector_rhos(order: int, r1: float | None, h: float, phi: float) -> tuple[float, float]:
    """(rho_1, rho_last) of the bh2 corrector; order 1 uses rho_last = 1/2 and no D term."""
    if order == 1:
        return 0.0, 0.5
    b1 = (phi / (-h) - 1.0) / phi
    b2 = 2.0 * ((phi / (-h) - 1.0) / (-h) - 0.5) / phi
    # Solve [[1, 1], [r1, 1]] rho = [b1, b2].
    det = 1.0 - r1
    rho1 = (b1 - b2) / det
    return rho1, b1 - rho1


def _switcher(
    switch_boundary: float | None, on_switch: Callable[[], None] | None
) -> Callable[[int, int], None]:
    if (switch_boundary is None) != (on_switch is None):
        raise ValueError(
            "switch_boundary and on_switch go together (got only one); pass both for a two-expert model, "
            "or neither"
        )
    state = {"switched": False}

    def check(i: int, timestep: int) -> None:
        # Wan2.2: the high-noise expert runs while timestep >= boundary * 1000; switch once, permanently.
        if switch_boundary is not None and not state["switched"] and timestep < 1000.0 * switch_boundary:
            logger.debug("step %d (timestep %d): switching to the low-noise expert", i, timestep)
            on_switch()
            state["switched"] = True

    return check


def flow_unipc_sample(
    velocity: Velocity,
    noise: Tensor,
    *,
    steps: int = 50,
    shift: float = 5.0,
    input_dtype: torch.dtype = torch.bfloat16,
    switch_boundary: float | None = None,
    on_switch: Callable[[], None] | None = None,
    on_step: StepCallback | None = None,
    progress: bool = False,
) -> Tensor:
    """Wan's UniPC (bh2, order 2, x0-prediction, lower order on the final step) over a flow model.

    velocity: the (guided) denoiser ``velocity(x, tau) -> v``; x in ``input_dtype``, tau [B] float32
        holding Wan's truncated integer timesteps. noise: the starting latent [B, C, F, h, w] (Wan starts
        from the noise itself, sigma_0 = 0.9998 at shift 5). switch_boundary/on_switch: the Wan2.2
        expert switch, once, at the first timestep below boundary * 1000. on_step(i, sigma_i) after each
        step. Returns the final latent, float32, noise's shape.
    """
    check_switch = _switcher(switch_boundary, on_switch)
    sigmas = flow_sigmas(steps, shift)
    timesteps = flow_timesteps(sigmas)
    x = noise.double()  # float64 solver state (see the module docstring)
    batch = x.shape[0]
    x0s: list[Tensor] = []  # x0 estimates of the steps so far
    prev_x: Tensor | None = None  # the state the previous predictor started from
    prev_order = 0
    for i in tqdm(range(steps), desc="sampling", unit="step", disable=not progress, leave=False):
        check_switch(i, timesteps[i])
        sigma = sigmas[i]
        tau = torch.full((batch,), float(timesteps[i]), dtype=torch.float32, device=x.device)
        v = velocity(x.to(input_dtype), tau).double()
        x0 = x - sigma * v  # from the uncorrected x_i, and stored as such
        if i > 0:  # corrector: redo the step i-1 -> i with the new x0_i
            assert prev_x is not None
            s_prev = sigmas[i - 1]
            h, phi = _phi(s_prev, sigma)
            r1 = (_lam(sigmas[i - 2]) - _lam(s_prev)) / h if prev_order == 2 else None
            rho1, rho_last = _corrector_rhos(prev_order, r1, h, phi)
            corr = rho_last * (x0 - x0s[-1])
            if prev_order == 2:
                corr = corr + rho1 * (x0s[-2] - x0s[-1]) / r1
            alpha = 1.0 - sigma
            x = (sigma / s_prev) * prev_x - alpha * phi * x0s[-1] - alpha * phi * corr
        x0s.append(x0)
        order = min(2, steps - i, i + 1)
        sigma_next = sigmas[i + 1]
        h, phi = _phi(sigma, sigma_next)
        alpha_next = 1.0 - sigma_next
        x_next = (sigma_next / sigma) * x - alpha_next * phi * x0
        if order == 2:
            r1 = (_lam(sigmas[i - 1]) - _lam(sigma)) / h
            x_next = x_next - alpha_next * phi * 0.5 * (x0s[-2] - x0) / r1
        prev_x, prev_order = x, order
        x = x_next
        x0s = x0s[-2:]
        if on_step is not None:
            on_step(i, sigma)
    return x.float()


def flow_euler_sample(
    velocity: Velocity,
    noise: Tensor,
    *,
    steps: int = 50,
    shift: float = 5.0,
    input_dtype: torch.dtype = torch.bfloat16,
    switch_boundary: float | None = None,
    on_switch: Callable[[], None] | None = None,
    on_step: StepCallback | None = None,
    progress: bool = False,
) -> Tensor:
    """Flow-matching Euler over Wan's schedule: x_{i+1} = x_i + (sigma_{i+1} - sigma_i) v_i.

    Same arguments and timesteps as ``flow_unipc_sample`` (used to make rCM / SLA training data).
    """
    check_switch = _switcher(switch_boundary, on_switch)
    sigmas = flow_sigmas(steps, shift)
    timesteps = flow_timesteps(sigmas)
    x = noise.double()
    for i in tqdm(range(steps), desc="sampling", unit="step", disable=not progress, leave=False):
        check_switch(i, timesteps[i])
        tau = torch.full((x.shape[0],), float(timesteps[i]), dtype=torch.float32, device=x.device)
        v = velocity(x.to(input_dtype), tau).double()
        x = x + (sigmas[i + 1] - sigmas[i]) * v
        if on_step is not None:
            on_step(i, sigmas[i])
    return x.float()
