"""rCM sampler against hand-worked steps (sampling-and-training.md §2)."""

from __future__ import annotations

import pytest
import torch

from turbodiffusion.sampling.rcm import rcm_sample
from turbodiffusion.sampling.schedules import rcm_rf_times
from turbodiffusion.testing.compare import rel_l2
from turbodiffusion.testing.tolerances import SAMPLER_FP32_OUT_REL

SHAPE = (2, 3, 2, 5, 7)  # ragged on purpose


class Recorder:
    """velocity(x, tau) = a x + b, recording what the network was given."""

    def __init__(self, a: float = 0.0, b: float = 0.0) -> None:
        self.a, self.b = a, b
        self.inputs: list[torch.Tensor] = []
        self.taus: list[torch.Tensor] = []

    def __call__(self, x: torch.Tensor, tau: torch.Tensor) -> torch.Tensor:
        self.inputs.append(x.clone())
        self.taus.append(tau.clone())
        return self.a * x.double() + self.b


@pytest.mark.parametrize("steps", [1, 2, 3, 4])
@pytest.mark.parametrize("ode", [False, True])
def test_point_mass_oracle_recovers_the_data(steps, ode):
    # Data concentrated at c: the exact velocity is (x_rf - c) / s, so every x0 estimate is c and any
    # correct schedule ends exactly at c.
    g = torch.Generator().manual_seed(10 + steps)
    c = torch.randn(SHAPE, generator=g, dtype=torch.float64)

    def oracle(x, tau):
        return (x - c) / (tau[0].item() / 1000.0)

    out = rcm_sample(
        oracle,
        SHAPE,
        generator=torch.Generator().manual_seed(3),
        steps=steps,
        ode=ode,
        input_dtype=torch.float64,
        timestep_dtype=torch.float64,
    )
    assert out.dtype == torch.float32 and out.shape == SHAPE
    assert rel_l2(out, c.float()) < SAMPLER_FP32_OUT_REL


def test_first_two_steps_by_hand():
    seed = 1234
    rec = Recorder(a=0.5, b=0.25)
    rcm_sample(rec, SHAPE, generator=torch.Generator().manual_seed(seed), steps=4, sigma_max=80.0)
    g = torch.Generator().manual_seed(seed)
    e0 = torch.randn(SHAPE, generator=g).double()
    n1 = torch.randn(SHAPE, generator=g).double()
    s0, s1 = 80.0 / 81.0, 0.933781061416858  # sigma/(1+sigma) at sigma_max 80; sin/(sin+cos) at t = 1.5
    x_0 = s0 * e0
    assert rec.inputs[0].dtype == torch.bfloat16
    assert torch.equal(rec.inputs[0], x_0.to(torch.bfloat16))
    v = 0.5 * x_0.to(torch.bfloat16).double() + 0.25  # the network saw the bf16 input
    x_1 = (1 - s1) * (x_0 - s0 * v) + s1 * n1
    assert torch.equal(rec.inputs[1], x_1.to(torch.bfloat16))
    assert [t.tolist() for t in rec.taus] == [[988.0] * 2, [932.0] * 2, [852.0] * 2, [608.0] * 2]
    assert all(t.dtype == torch.bfloat16 for t in rec.taus)


@pytest.mark.parametrize("steps", [1, 3, 4])
def test_full_run_by_hand_in_float64(steps):
    seed = 77 + steps
    a, b = -0.3, 0.1
    rec = Recorder(a, b)
    out = rcm_sample(
        rec,
        SHAPE,
        generator=torch.Generator().manual_seed(seed),
        steps=steps,
        sigma_max=200.0,
        input_dtype=torch.float64,
        timestep_dtype=torch.float64,
    )
    g = torch.Generator().manual_seed(seed)
    s = rcm_rf_times(steps, 200.0)
    x = s[0] * torch.randn(SHAPE, generator=g).double()
    for i in range(steps):
        x0 = x - s[i] * (a * x + b)
        x = (1 - s[i + 1]) * x0 + s[i + 1] * torch.randn(SHAPE, generator=g).double()
    assert rel_l2(out, x.float()) < SAMPLER_FP32_OUT_REL
    # The last step still draws noise (scaled by 0): the generator advanced by steps + 1 draws.
    assert torch.equal(torch.randn(3, generator=g), torch.randn(3, generator=_advanced(seed, steps + 1)))


def _advanced(seed: int, draws: int) -> torch.Generator:
    g = torch.Generator().manual_seed(seed)
    for _ in range(draws):
        torch.randn(SHAPE, generator=g)
    return g


def test_ode_is_euler_and_draws_once():
    seed, a = 5, 0.7
    gen = torch.Generator().manual_seed(seed)
    out = rcm_sample(
        Recorder(a),
        SHAPE,
        generator=gen,
        steps=3,
        ode=True,
        input_dtype=torch.float64,
        timestep_dtype=torch.float64,
    )
    g = torch.Generator().manual_seed(seed)
    s = rcm_rf_times(3)
    x = s[0] * torch.randn(SHAPE, generator=g).double()
    for i in range(3):
        x = x - (s[i] - s[i + 1]) * (a * x)
    assert rel_l2(out, x.float()) < SAMPLER_FP32_OUT_REL
    assert torch.equal(torch.randn(3, generator=gen), torch.randn(3, generator=_advanced(seed, 1)))


def test_same_seed_same_result_and_different_seed_differs():
    def run(seed):
        return rcm_sample(Recorder(0.2), SHAPE, generator=torch.Generator().manual_seed(seed), steps=4)

    assert torch.equal(run(9), run(9))
    assert not torch.equal(run(9), run(10))


@pytest.mark.parametrize(
    ("steps", "expected"),
    [(4, "HHLL"), (3, "HHL"), (2, "HH"), (1, "H")],
)
def test_expert_switch_pattern(steps, expected):
    active = ["H"]
    calls: list[str] = []
    switches: list[int] = []

    def velocity(x, tau):
        calls.append(active[0])
        return torch.zeros_like(x)

    def switch():
        switches.append(len(calls))
        active[0] = "L"

    rcm_sample(
        velocity,
        SHAPE,
        generator=torch.Generator().manual_seed(0),
        steps=steps,
        sigma_max=200.0,
        switch_boundary=0.9,
        on_switch=switch,
    )
    assert "".join(calls) == expected
    assert switches == ([2] if "L" in expected else [])


def test_on_step_reports_each_step():
    seen = []
    rcm_sample(
        Recorder(),
        SHAPE,
        generator=torch.Generator().manual_seed(0),
        steps=3,
        on_step=lambda i, s: seen.append(i),
    )
    assert seen == [0, 1, 2]


def test_switch_arguments_validated():
    g = torch.Generator().manual_seed(0)
    with pytest.raises(ValueError, match="switch_boundary and on_switch go together"):
        rcm_sample(Recorder(), SHAPE, generator=g, switch_boundary=0.9)
    with pytest.raises(ValueError, match=r"switch_boundary must be in \(0, 1\)"):
        rcm_sample(Recorder(), SHAPE, generator=g, switch_boundary=1.5, on_switch=lambda: None)
    with pytest.raises(ValueError, match="rCM runs 1 to 4 steps"):
        rcm_sample(Recorder(), SHAPE, generator=g, steps=8)


def test_velocity_shape_checked():
    with pytest.raises(ValueError, match="velocity returned shape"):
        rcm_sample(lambda x, t: x[:1], SHAPE, generator=torch.Generator().manual_seed(0))
