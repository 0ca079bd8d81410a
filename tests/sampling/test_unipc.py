"""Baseline flow UniPC / Euler against hand-worked steps and the exact ODE (sampling-and-training.md §3)."""

from __future__ import annotations

import math

import pytest
import torch

from turbodiffusion.sampling.schedules import flow_sigmas, flow_timesteps
from turbodiffusion.sampling.unipc import flow_euler_sample, flow_unipc_sample, guided
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.testing.tolerances import SAMPLER_FP32_OUT_REL

SHAPE = (1, 2, 3, 3, 5)


def linear(a: float):
    taus = []

    def velocity(x, tau):
        taus.append(tau.tolist())
        return a * x.double()

    velocity.taus = taus
    return velocity


def _lam(s):
    return math.log((1 - s) / s)


def test_four_steps_by_hand():
    # Scalar arithmetic on a linear field v = a x; every coefficient written out from §3. Four steps are
    # the fewest where the order-2 corrector (step 2) reaches the output.
    a, shift = 0.8, 3.0
    g = torch.Generator().manual_seed(21)
    noise = torch.randn(SHAPE, generator=g, dtype=torch.float64)
    out = flow_unipc_sample(linear(a), noise, steps=4, shift=shift, input_dtype=torch.float64)

    s0, s1, s2, s3, _ = flow_sigmas(4, shift)
    a1, a2, a3 = 1 - s1, 1 - s2, 1 - s3
    l0, l1, l2, l3 = _lam(s0), _lam(s1), _lam(s2), _lam(s3)
    p01, p12, p23 = (math.exp(-(lb - la)) - 1 for la, lb in ((l0, l1), (l1, l2), (l2, l3)))
    h12, h23 = l2 - l1, l3 - l2
    x0_ = noise
    # step 0: order-1 predictor
    m0 = x0_ - s0 * a * x0_
    x1 = (s1 / s0) * x0_ - a1 * p01 * m0
    # step 1: model on the uncorrected x1, order-1 corrector (rho = 1/2), then the order-2 predictor
    m1 = x1 - s1 * a * x1
    x1c = (s1 / s0) * x0_ - a1 * p01 * m0 - a1 * p01 * 0.5 * (m1 - m0)
    r = (l0 - l1) / h12
    x2 = (s2 / s1) * x1c - a2 * p12 * m1 - a2 * p12 * 0.5 * (m0 - m1) / r
    # step 2: order-2 corrector solving [[1, 1], [r, 1]] rho = b, then the order-2 predictor
    m2 = x2 - s2 * a * x2
    hh = -h12
    b1 = (p12 / hh - 1) / p12
    b2 = 2 * ((p12 / hh - 1) / hh - 0.5) / p12
    rho = torch.linalg.solve(
        torch.tensor([[1.0, 1.0], [r, 1.0]], dtype=torch.float64), torch.tensor([b1, b2], dtype=torch.float64)
    )
    rho1, rho_last = rho.tolist()
    x2c = (s2 / s1) * x1c - a2 * p12 * m1 - a2 * p12 * (rho1 * (m0 - m1) / r + rho_last * (m2 - m1))
    r2 = (l1 - l2) / h23
    x3 = (s3 / s2) * x2c - a3 * p23 * m2 - a3 * p23 * 0.5 * (m1 - m2) / r2
    # step 3: the model sees x3; whatever the corrector does, the order-1 predictor to sigma = 0 returns
    # x0 = m3 exactly (phi = -1, sigma_4 / sigma_3 = 0).
    m3 = x3 - s3 * a * x3
    assert rel_l2(out, m3.float()) < SAMPLER_FP32_OUT_REL
    assert rel_l2(x2c, x2) > 1e-6  # the corrector did change the state, so the check above sees it


def test_timesteps_are_truncated_integers():
    v = linear(0.1)
    flow_unipc_sample(v, torch.ones(SHAPE), steps=50, shift=5.0)
    assert [t[0] for t in v.taus] == [float(t) for t in flow_timesteps(flow_sigmas(50, 5.0))]
    assert v.taus[0] == [999.0]


def _ode_error(sampler, steps: int, a: float = 1.3) -> float:
    # dx/dsigma = a x from sigma_0 to 0: x(0) = x_0 exp(-a sigma_0), exact.
    noise = torch.full(SHAPE, 0.7, dtype=torch.float64)
    out = sampler(linear(a), noise, steps=steps, shift=1.0, input_dtype=torch.float64)
    exact = 0.7 * math.exp(-a * flow_sigmas(steps, 1.0)[0])
    return abs(out[0, 0, 0, 0, 0].item() - exact)


def test_unipc_is_second_order_and_euler_first():
    # Halving the step: error / 4 for order 2, / 2 for order 1 (within a loose band).
    u = _ode_error(flow_unipc_sample, 20) / _ode_error(flow_unipc_sample, 40)
    e = _ode_error(flow_euler_sample, 20) / _ode_error(flow_euler_sample, 40)
    assert 3.0 < u < 5.5, u
    assert 1.6 < e < 2.4, e
    assert _ode_error(flow_unipc_sample, 40) < _ode_error(flow_euler_sample, 40) / 20


def test_euler_by_hand():
    a = -0.4
    noise = torch.randn(SHAPE, generator=torch.Generator().manual_seed(4), dtype=torch.float64)
    out = flow_euler_sample(linear(a), noise, steps=4, shift=5.0, input_dtype=torch.float64)
    s = flow_sigmas(4, 5.0)
    x = noise
    for i in range(4):
        x = x + (s[i + 1] - s[i]) * a * x
    assert rel_l2(out, x.float()) < SAMPLER_FP32_OUT_REL


def test_guidance_combines_cond_and_uncond():
    x = torch.randn(SHAPE, generator=torch.Generator().manual_seed(8))
    tau = torch.tensor([500.0])
    v = guided(lambda x, t: 3 * x, lambda x, t: x, 5.0)(x, tau)
    assert torch.allclose(v, x + 5.0 * (3 * x - x))


@pytest.mark.parametrize("sampler", [flow_unipc_sample, flow_euler_sample])
def test_expert_switch_at_timestep_900(sampler):
    steps, shift = 10, 5.0
    taus = flow_timesteps(flow_sigmas(steps, shift))
    active = ["high"]
    used = []

    def velocity(x, tau):
        used.append((active[0], tau[0].item()))
        return torch.zeros_like(x)

    sampler(
        velocity,
        torch.ones(SHAPE),
        steps=steps,
        shift=shift,
        switch_boundary=0.9,
        on_switch=lambda: active.__setitem__(0, "low"),
    )
    assert [t for _, t in used] == taus
    assert all((name == "high") == (t >= 900) for name, t in used)
    assert {name for name, _ in used} == {"high", "low"}


def test_switch_arguments_validated():
    with pytest.raises(ValueError, match="switch_boundary and on_switch go together"):
        flow_unipc_sample(linear(0.1), torch.ones(SHAPE), steps=2, on_switch=lambda: None)
    with pytest.raises(ValueError, match="at least 1 step"):
        flow_euler_sample(linear(0.1), torch.ones(SHAPE), steps=0)
